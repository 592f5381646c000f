/**
 * Server-Sent Events parser for salt-api's `/events` stream: `tag:` and `data:` fields,
 * events separated by a blank line. Written by hand: the format needs twenty lines and the
 * npm parsers pull in browser `EventSource` shims.
 */

/** One raw SSE event. */
export interface RawSseEvent {
  readonly event: string | undefined;
  readonly fields: Readonly<Record<string, string>>;
  readonly data: string;
}

/** Splits a byte stream into SSE events. */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<RawSseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let fields: Record<string, string> = {};
  let data: string[] = [];
  const flush = (): RawSseEvent | undefined => {
    if (data.length === 0 && Object.keys(fields).length === 0) return undefined;
    const ev = { event: fields.event, fields, data: data.join('\n') };
    fields = {};
    data = [];
    return ev;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      if (line === '') {
        const ev = flush();
        if (ev && ev.data !== '') yield ev;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'data') data.push(value);
      else fields[name] = value;
    }
  }
  const last = flush();
  if (last && last.data !== '') yield last;
}
