// What a run's page lists after the steps a run recorded.

/** A step's name as its records give it: the `name` written, else `<type>_<index>`. */
const stepName = (s, i) => String(s?.name ?? `${s?.type}_${i}`);

/** The steps of `planned` (its version's definition) a run has not recorded: those still to
 * come while it runs, those it never reached once it failed. None when the records are not the
 * first of them (another version's definition) or the run succeeded. */
export function unreachedSteps(run, planned) {
  const steps = run.steps || [];
  if (!Array.isArray(planned) || run.status === 'succeeded') return [];
  const names = planned.map(stepName);
  if (steps.length > planned.length || steps.some((s, i) => s.name !== names[i])) return [];
  const open = run.status === 'queued' || run.status === 'running';
  return planned.slice(steps.length).map((s, j) => ({
    name: names[steps.length + j],
    type: String(s?.type ?? ''),
    state: !open ? 'not run' : j === 0 && run.status === 'running' ? 'in progress' : 'waiting',
  }));
}
