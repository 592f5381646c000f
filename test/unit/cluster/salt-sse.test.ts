import { describe, expect, it } from 'vitest';
import { parseSse } from '../../../src/cluster/_salt-sse.js';

async function collect(chunks: string[]) {
  const encoder = new TextEncoder();
  async function* body() {
    for (const c of chunks) yield encoder.encode(c);
  }
  const out = [];
  for await (const ev of parseSse(body())) out.push(ev);
  return out;
}

describe('salt-api event stream parsing', () => {
  it('reads salt-api events split at any byte, with CRLF and comments', async () => {
    const stream =
      'retry: 400\r\n\r\n: keep-alive\r\n' +
      'tag: salt/run/1/new\r\ndata: {"tag": "salt/run/1/new", "data": {"fun": "runner.test.arg"}}\r\n\r\n' +
      'tag: salt/run/1/ret\ndata: {"tag": "salt/run/1/ret",\ndata:  "data": {"success": true}}\n\n';
    // Cut the stream every 7 bytes, across field names and multi-byte boundaries alike.
    const chunks: string[] = [];
    for (let i = 0; i < stream.length; i += 7) chunks.push(stream.slice(i, i + 7));
    const events = await collect(chunks);
    expect(events.map((e) => e.fields.tag)).toEqual(['salt/run/1/new', 'salt/run/1/ret']);
    expect(JSON.parse(events[0]?.data ?? '')).toEqual({ tag: 'salt/run/1/new', data: { fun: 'runner.test.arg' } });
    // Two `data:` lines join with a newline, as the SSE format says.
    expect(JSON.parse(events[1]?.data ?? '')).toEqual({ tag: 'salt/run/1/ret', data: { success: true } });
  });

  it('keeps a multi-byte character cut between two chunks', async () => {
    const bytes = new TextEncoder().encode('data: {"comment": "échec"}\n\n');
    async function* body() {
      yield bytes.slice(0, 21); // ends inside the two bytes of "é"
      yield bytes.slice(21);
    }
    const events = [];
    for await (const ev of parseSse(body())) events.push(ev);
    expect(JSON.parse(events[0]?.data ?? '')).toEqual({ comment: 'échec' });
  });
});
