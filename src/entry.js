// The Worker's entry module: the Worker and its Durable Object class as the Rust build exports
// them (build/index.js), with the object class put behind a class that derives from
// `DurableObject`. The platform offers RPC methods only on such classes, and the build's
// export does not derive from it; this class forwards each entry point to the Rust object.
import { DurableObject } from "cloudflare:workers";
import Tripline, { WorkflowObject as RustWorkflowObject } from "../build/index.js";

export default Tripline;

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
