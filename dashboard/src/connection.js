// An OAuth connection's state in words (the connections list).

/** `active`, or what the end user must do when the provider refused the connection's refresh
 * token: sign in again (with the provider's reason). */
export function connectionState(c) {
  if (c.needs_reauth || c.status === 'needs_reauth') {
    const reason = c.needs_reauth && c.needs_reauth.reason;
    return { tone: 'bad', text: reason ? `needs a new sign-in: ${reason}` : 'needs a new sign-in' };
  }
  return { tone: 'muted', text: c.status };
}
