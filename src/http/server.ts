// The service's HTTP server: the express app, plus answers in the API's JSON
// error shape for the requests Node rejects before the app sees them
// (headers over Node's limit, 16 KiB by default: 431; a request that does
// not parse as HTTP: 400; one that arrives too slowly: 408). Node's own
// answers carry no body at all.

import { createServer, maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';

type ClientError = Error & { code?: string };

/** What to answer for a request Node could not read: status, code, message. */
export function clientErrorAnswer(err: ClientError, headerLimitBytes: number): [number, string, string] {
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, 'header_too_large', `request headers are larger than the server's limit of ${headerLimitBytes} bytes`];
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'request_timeout', 'the request did not arrive in time'];
  return [400, 'bad_request', `malformed HTTP request${err.code ? ` (${err.code})` : ''}`];
}

/** Node's 'clientError' handler: the JSON answer written on the socket (there is no request or response object). */
function onClientError(err: ClientError, socket: Duplex): void {
  // a response already under way on this connection (or a reset one) cannot take another
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  const [status, code, message] = clientErrorAnswer(err, maxHeaderSize);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`);
}

/** Listen with the app (as app.listen does), JSON answers for unreadable requests included. */
export function listenApp(app: Express, port: number, host: string): Server {
  const server = createServer(app);
  server.on('clientError', onClientError);
  return server.listen(port, host);
}
