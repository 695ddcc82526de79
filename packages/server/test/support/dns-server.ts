import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A DNS server on loopback UDP for tests: it answers A and AAAA questions from
 * `zone` (NXDOMAIN for other names, an empty answer for a missing type). It never
 * answers at all when `silent`, nor questions of the types in `drop` (a server
 * that loses AAAA questions). Enough of RFC 1035 for c-ares' questions.
 */
export interface DnsServer {
  address: string;
  questions: { name: string; type: number }[];
  close(): Promise<void>;
}

const A = 1;
const AAAA = 28;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  while (msg[at]! !== 0) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString('ascii'));
    at += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: at + 1 };
}

function rdata(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const [head, tail = ''] = address.split('::');
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head!);
  const t = groups(tail);
  const all = address.includes('::') ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function answer(query: Buffer, zone: Record<string, string[]>): Buffer {
  const { name, end } = readName(query, 12);
  const type = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const known = Object.hasOwn(zone, name);
  const records = (known ? zone[name]! : []).filter((a) => (type === A ? isIPv4(a) : type === AAAA ? isIPv6(a) : false));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion desired+available; NXDOMAIN when unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((address) => {
    const data = rdata(address);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(type, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(60, 6); // TTL
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

export async function startDnsServer(zone: Record<string, string[]>, { silent = false, drop = [] as number[] } = {}): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const questions: DnsServer['questions'] = [];
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    const { name, end } = readName(msg, 12);
    const type = msg.readUInt16BE(end);
    questions.push({ name, type });
    if (!silent && !drop.includes(type)) socket.send(answer(msg, zone), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    questions,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
