// The benchmark baseline: the least a Worker can do for a webhook — parse the JSON body, insert
// one row into D1, answer 202 with the row's id. No validation, no schema, no run engine.
/** The request's JSON body as `{ body }`, or `{ refusal }`: a 405 or 400 to answer instead. */
export async function readJson(request) {
  if (request.method !== "POST") {
    return { refusal: new Response("method not allowed", { status: 405, headers: { allow: "POST" } }) };
  }
  try {
    return { body: await request.json() };
  } catch (e) {
    return {
      refusal: new Response(JSON.stringify({ error: "invalid JSON" }), {
        status: 400,
        headers: { "content-type": "application/json" },
      }),
    };
  }
}

export default {
  async fetch(request, env) {
    const { body, refusal } = await readJson(request);
    if (refusal) return refusal;
    const id = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO runs (id, input, created_at) VALUES (?1, ?2, ?3)")
      .bind(id, JSON.stringify(body), new Date().toISOString())
      .run();
    return new Response(JSON.stringify({ run_id: id }), {
      status: 202,
      headers: { "content-type": "application/json", location: `/runs/${id}` },
    });
  },
};
