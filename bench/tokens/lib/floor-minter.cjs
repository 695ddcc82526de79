'use strict';
// The floor of part B: the least a Node server can do per token request on this machine.
// Bare node:http, no framework, no authentication, no database: it reads the body, builds
// claims of the same shape and size as Latchkey's, signs them RS256 with the callback form of
// crypto.sign on libuv's pool (sized as Latchkey sizes it), and answers
// {"object":"token","jwt":…}. It is not a peer to beat but a yardstick: what part B's ratio
// can reach here at all, with the load generator on the same cores.
// Usage: PORT=<port> node floor-minter.cjs   (prints "listening" when ready)
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(require('../../../packages/server/bin/pool-size.cjs').poolSize());
}
const http = require('node:http');
const { generateKeyPairSync, randomBytes, sign } = require('node:crypto');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'ins_floor', typ: 'JWT' })).toString('base64url');
const ISSUER = 'http://127.0.0.1:4000';

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function mint(sessionId, res) {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: ISSUER, sub: `user_${sessionId.slice(5)}`, sid: sessionId, iat, nbf: iat - 10, exp: iat + 60,
    jti: randomBytes(10).toString('hex'), v: 2, sts: 'active', fva: [-1, -1],
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  sign('sha256', Buffer.from(input), privateKey, (err, sig) => {
    if (err) return answer(res, 500, '{"errors":[{"code":"internal"}]}');
    answer(res, 200, JSON.stringify({ object: 'token', jwt: `${input}.${sig.toString('base64url')}` }));
  });
}

http.createServer((req, res) => {
  const match = /^\/v1\/sessions\/([^/]+)\/tokens$/.exec(req.url ?? '');
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    if (req.method !== 'POST' || !match) return answer(res, 404, '{"errors":[{"code":"resource_not_found"}]}');
    try {
      JSON.parse(body || '{}');
    } catch {
      return answer(res, 400, '{"errors":[{"code":"malformed_request"}]}');
    }
    mint(match[1], res);
  });
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
