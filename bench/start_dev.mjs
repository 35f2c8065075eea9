// Starts `wrangler dev` through wrangler's own API (`unstable_startWorker`) with the devtools
// inspector off. The CLI always attaches an inspector proxy that enables the Network domain and
// forwards every event (several per D1 query) to the wrangler process as a debug log; that dev-only
// cost is per subrequest, so it weighs on Tripline (D1 calls) and not on the baseline (none).
// Usage: node bench/start_dev.mjs CONFIG PORT PERSIST_DIR [VARS_JSON]; prints "ready URL".
import { unstable_startWorker } from "wrangler";

const [config, port, persist, varsJson] = process.argv.slice(2);
const vars = JSON.parse(varsJson || "{}");
const bindings = Object.fromEntries(
  Object.entries(vars).map(([k, v]) => [k, { type: "plain_text", value: v }]),
);
const worker = await unstable_startWorker({
  config,
  bindings,
  dev: {
    server: { hostname: "127.0.0.1", port: Number(port) },
    inspector: false,
    persist,
    watch: false,
    logLevel: "warn",
  },
});
await worker.ready;
console.log("ready", String(await worker.url));
const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
