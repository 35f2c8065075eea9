// The example request the test shelf shows while it is empty.

/** A curl command for the test URL with the draft's first method (`POST` unless it says): a
 * JSON body for the methods that carry one. */
export function exampleCurl(wf) {
  const given = wf.draft && wf.draft.trigger && wf.draft.trigger.method;
  const method = String((Array.isArray(given) ? given[0] : given) || 'POST').toUpperCase();
  const url = `'${wf.urls.test}'`;
  if (method === 'GET') return `curl ${url}`;
  if (method === 'DELETE') return `curl -X DELETE ${url}`;
  return `curl -X ${method} ${url} -H 'content-type: application/json' -d '{"hello":"world"}'`;
}
