// The scheduler benchmark's floor (`BENCH_IMPLS` with "floor"): the baseline's object
// (bench/baseline/), storing on each fire what a fire of a scheduled workflow with one `log`
// step stores at least: one run row, as Tripline's timer object stores it (the same table and
// indexes, src/objects/runs/schema.rs), with its input and its step record written as JSON in
// one insert. No engine, no templates, no deduplication check beyond the unique index.
import baseline, { Ticker as BaselineTicker } from "../baseline/index.js";

const RUNS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE,
     workflow_id TEXT NOT NULL, version INTEGER NOT NULL, trigger TEXT NOT NULL,
     status TEXT NOT NULL, input TEXT NOT NULL, steps TEXT NOT NULL DEFAULT '[]', error TEXT,
     response TEXT, fingerprint TEXT, attempts INTEGER NOT NULL DEFAULT 0,
     lease_until INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, started_at TEXT,
     finished_at TEXT, private TEXT, bytes INTEGER NOT NULL DEFAULT 0)`,
  `CREATE INDEX IF NOT EXISTS runs_status ON runs (status, id)`,
  `CREATE INDEX IF NOT EXISTS runs_open ON runs (lease_until, id) WHERE status IN ('queued', 'running')`,
  `CREATE INDEX IF NOT EXISTS runs_finished ON runs (created_at) WHERE status IN ('succeeded', 'failed')`,
];

export class Ticker extends BaselineTicker {
  createTable() {
    for (const statement of RUNS_SCHEMA) this.ctx.storage.sql.exec(statement);
  }

  record(scheduled, fired) {
    const scheduledAt = new Date(scheduled).toISOString();
    const firedAt = new Date(fired).toISOString();
    const input = JSON.stringify({ schedule: { scheduled_at: scheduledAt, fired_at: firedAt, late: false } });
    const finished = new Date().toISOString();
    const steps = JSON.stringify([
      { name: "tick", type: "log", status: "succeeded", started_at: firedAt, finished_at: finished,
        output: { message: scheduledAt } },
    ]);
    this.ctx.storage.sql.exec(
      `INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, attempts,
         created_at, started_at, finished_at, bytes, steps)
       VALUES (?, ?, 1, 'schedule', ?, 'succeeded', ?, 1, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      crypto.randomUUID(), this.ctx.id.toString(), `schedule:${scheduledAt}`, input, firedAt, firedAt,
      finished, input.length + steps.length, steps,
    );
  }

  results() {
    const rows = this.ctx.storage.sql.exec("SELECT input FROM runs ORDER BY created_at").toArray();
    return rows.map((r) => {
      const s = JSON.parse(r.input).schedule;
      return [Date.parse(s.scheduled_at), Date.parse(s.fired_at)];
    });
  }
}

export default baseline;
