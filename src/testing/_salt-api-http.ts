/**
 * salt-api's HTTP answers as its CherryPy server writes them, for the SaltAPI emulator: the
 * error a request handler throws (`HttpError`: status and message), JSON answers, CherryPy's
 * HTML error page (how salt-api answers 401), and reading a request body (JSON, or a form whose
 * repeated `arg` fields make a list).
 */
import type http from 'node:http';

/** One lowstate chunk of a request: `{ client, fun, arg, kwarg, tgt, … }`, or `/login`'s credentials. */
export type Lowstate = Record<string, unknown>;

/** An answer other than 200: thrown by a handler, written by the server. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An error page as CherryPy (salt-api's server) writes it: salt-api answers 401 this way. */
export function sendHtmlError(res: http.ServerResponse, status: number, reason: string, message: string): void {
  const html = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const body = [
    '<!DOCTYPE html PUBLIC',
    '"-//W3C//DTD XHTML 1.0 Transitional//EN"',
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html>',
    '<head>',
    '    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>',
    `    <title>${status} ${reason}</title>`,
    '</head>',
    '    <body>',
    `        <h2>${status} ${reason}</h2>`,
    `        <p>${html(message)}</p>`,
    '    </body>',
    '</html>',
    '',
  ].join('\n');
  res.writeHead(status, { 'content-type': 'text/html;charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Reads a request body: JSON, or `application/x-www-form-urlencoded` (each `arg` field appended to a list). */
export async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/x-www-form-urlencoded')) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      if (k === 'arg') out.arg = [...(Array.isArray(out.arg) ? out.arg : []), v];
      else out[k] = v;
    }
    return out;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'Could not parse the request body as JSON');
  }
}

/** A JSON answer. */
export function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
