// The benchmark baseline: the least a Worker can do for a webhook — parse the JSON body, insert
// one row into D1, answer 202 with the row's id. No validation, no schema, no run engine.
export default {
  async fetch(request, env) {
    if (request.method !== "POST") {
      return new Response("method not allowed", { status: 405, headers: { allow: "POST" } });
    }
    let body;
    try {
      body = await request.json();
    } catch (e) {
      return new Response(JSON.stringify({ error: "invalid JSON" }), {
        status: 400,
        headers: { "content-type": "application/json" },
      });
    }
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
