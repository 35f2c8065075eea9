// A static asset answered with its own headers, for src/api/documents.rs: the asset request,
// the answer and its headers are built here rather than object by object from wasm.

// Resolves to a new Response (status 200, `contentType`, and `access-control-allow-origin: *`
// when `anyOrigin`) with the body of the asset at `path`, or to null when the deployment has no
// `ASSETS` binding or no such asset.
export async function serveAsset(env, path, contentType, anyOrigin) {
  const assets = env.ASSETS;
  if (!assets) return null;
  let found;
  try {
    found = await assets.fetch(new Request(`https://assets.invalid${path}`));
  } catch {
    return null;
  }
  if (found.status !== 200) return null;
  const headers = { "content-type": contentType };
  if (anyOrigin) headers["access-control-allow-origin"] = "*";
  return new Response(found.body, { status: 200, headers });
}
