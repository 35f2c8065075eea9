// Direction controls in what the page shows: data a webhook sender, an upstream or another
// user chose could otherwise reorder the text around it ("evil" shown as "live", a name shown
// backwards). Every text the page renders has them written out as escapes (`\u202e`); the
// editor marks them itself.

const DIRECTION_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with each direction control written as its escape (`\u202e`). */
export function visible(text) {
  return text.replace(DIRECTION_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Has preact render every text node through [`visible`] (`options` is preact's). */
export function showDirectionControls(options) {
  const next = options.vnode;
  options.vnode = (vnode) => {
    if (vnode.type === null && typeof vnode.props === 'string') vnode.props = visible(vnode.props);
    if (next) next(vnode);
  };
}
