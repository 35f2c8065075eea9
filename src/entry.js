// The Worker's entry module: the Worker and its Durable Object class as the Rust build exports
// them (build/index.js), the Worker's requests without their `cf` object (below), and the object
// class put behind a class that derives from `DurableObject`. The platform offers RPC methods
// only on such classes, and the build's export does not derive from it; this class forwards
// each entry point to the Rust object.
import { DurableObject } from "cloudflare:workers";
import RustTripline, { WorkflowObject as RustWorkflowObject } from "../build/index.js";

export default class Tripline extends RustTripline {
  fetch(request) {
    // Tripline never reads `request.cf`, but the Rust request conversion reads it on every
    // request, and reading it makes the platform build that object (dozens of fields).
    Object.defineProperty(request, "cf", { value: undefined });
    return super.fetch(request);
  }
}

export class WorkflowObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new RustWorkflowObject(ctx, env);
  }

  fetch(request) {
    return this.rust.fetch(request);
  }

  alarm() {
    return this.rust.alarm();
  }

  /** Creates a run in this shard object: `[status, body]` (see `create_run_entry`). */
  createRun(workflowId, run) {
    return this.rust.createRun(workflowId, run);
  }
}
