// A minimal Server-Sent Events reader for tests: reads a streaming fetch
// response and yields { event, id, data } until the server ends the stream.
export interface SseMessage {
  event: string;
  id?: string;
  data: unknown;
}

export async function readSse(res: Response, onMessage: (m: SseMessage) => void, onComment?: (c: string) => void): Promise<void> {
  if (!res.body) throw new Error('response has no body');
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) onComment?.(line.slice(1).trim());
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onMessage({ event, id, data: JSON.parse(data.join('\n')) });
    }
  }
}
