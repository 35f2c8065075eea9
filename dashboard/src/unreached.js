// What a run's page lists after the steps a run recorded.

/** The steps of `planned` (its version's definition) a run has not recorded: those still to
 * come while it runs, those it never reached once it failed. None when the records are not the
 * first of them (another version's definition) or the run succeeded. */
export function unreachedSteps(run, planned) {
  const steps = run.steps || [];
  if (!Array.isArray(planned) || run.status === 'succeeded') return [];
  if (steps.length > planned.length || steps.some((s, i) => s.name !== planned[i]?.name)) return [];
  const open = run.status === 'queued' || run.status === 'running';
  return planned.slice(steps.length).map((s, j) => ({
    name: String(s?.name ?? ''),
    type: String(s?.type ?? ''),
    state: !open ? 'not run' : j === 0 && run.status === 'running' ? 'in progress' : 'waiting',
  }));
}
