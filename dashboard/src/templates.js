// The workflow templates offered by "New workflow": every file in the repository's examples/
// (each trigger kind, some in more than one form), bundled as text so the editor shows them as
// written.
import endpoint from '../../examples/endpoint.json';
import schedule from '../../examples/schedule.json';
import heartbeat from '../../examples/every-5-seconds.json';
import oauth from '../../examples/oauth.json';
import pollPostgres from '../../examples/poll-postgres.json';
import poll from '../../examples/poll.json';
import pollHttp from '../../examples/poll-http.json';
import pollHttpPages from '../../examples/poll-http-pages.json';

export const TEMPLATES = [
  { id: 'endpoint', label: 'API endpoint (webhook)', text: endpoint },
  { id: 'schedule', label: 'Schedule: daily at 02:30 New York', text: schedule },
  { id: 'every-5-seconds', label: 'Schedule: every 5 seconds', text: heartbeat },
  { id: 'oauth', label: 'OAuth sign-in (GitHub)', text: oauth },
  { id: 'poll-postgres', label: 'Poll: PostgreSQL table by id', text: pollPostgres },
  { id: 'poll', label: 'Poll: PostgreSQL table by time', text: poll },
  { id: 'poll-http', label: 'Poll: HTTP JSON API', text: pollHttp },
  { id: 'poll-http-pages', label: 'Poll: HTTP JSON API, newest first, in pages', text: pollHttpPages },
];
