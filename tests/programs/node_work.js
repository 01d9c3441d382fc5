// node_work.js - the workload of run-node.sh: 4 worker threads and the main
// thread, each through what Node.js takes from malloc (Buffers and their
// backing stores, zlib's streams, OpenSSL's hashes and ciphers, libuv's file
// requests) and what V8 keeps in its own heap (maps, strings, JSON). Prints one
// deterministic line per thread.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const zlib = require('zlib');
const fs = require('fs');
const path = require('path');

function job(seed, dir) {
    let acc = 0;
    const m = new Map();
    for (let i = 0; i < 200000; i++) {
        const k = 'k' + ((i * 7919 + seed) % 50000);
        m.set(k, (m.get(k) || '') + String.fromCharCode(97 + (i % 26)));
    }
    for (const [k, v] of m) acc += v.length + k.length;

    // Buffers of every size, kept and dropped; their bytes hashed.
    const h = crypto.createHash('sha256');
    const kept = [];
    for (let i = 0; i < 3000; i++) {
        const b = Buffer.alloc(16 + ((i * 2654435761 + seed) % 70000), (i + seed) & 0xff);
        h.update(b);
        if (i % 3 === 0) kept.push(b);
        if (kept.length > 200) kept.splice(i % kept.length, 1);
    }
    for (const b of kept) acc += b.length;

    // zlib in both directions, sync streams of several MiB.
    const big = Buffer.alloc(8 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 31 + seed) >>> 0, i);
    const z = zlib.gzipSync(big, { level: 6 });
    const back = zlib.gunzipSync(z);
    acc += back.length + (back.equals(big) ? 1 : 0);
    h.update(zlib.deflateRawSync(Buffer.from(JSON.stringify([...m.keys()].slice(0, 5000)))));

    // A cipher round trip.
    const key = crypto.createHash('sha256').update('key' + seed).digest();
    const iv = Buffer.alloc(16, seed);
    const c = crypto.createCipheriv('aes-256-cbc', key, iv);
    const enc = Buffer.concat([c.update(big.subarray(0, 1 << 20)), c.final()]);
    const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
    const dec = Buffer.concat([d.update(enc), d.final()]);
    acc += dec.equals(big.subarray(0, 1 << 20)) ? 1 : 0;

    // Files through libuv's requests.
    const file = path.join(dir, 'f' + seed);
    for (let i = 0; i < 50; i++) fs.writeFileSync(file, big.subarray(0, 4096 * (i + 1)));
    acc += fs.readFileSync(file).length;
    fs.unlinkSync(file);

    const arr = [];
    for (let i = 0; i < 100000; i++) arr.push({ a: i, b: [i, i * 2], c: 's' + i });
    acc += JSON.parse(JSON.stringify(arr)).length;
    return 'thread ' + seed + ': ' + acc + ' ' + h.digest('hex');
}

if (isMainThread) {
    const dir = process.argv[2] || '.';
    const runs = [];
    for (let t = 0; t < 4; t++) {
        runs.push(new Promise((resolve, reject) => {
            const w = new Worker(__filename, { workerData: { seed: t, dir } });
            w.on('message', resolve);
            w.on('error', reject);
        }));
    }
    Promise.all(runs).then((lines) => {
        console.log(lines.join('\n'));
        console.log(job(99, dir));
    }, (err) => {
        console.error(err);
        process.exit(1);
    });
} else {
    parentPort.postMessage(job(workerData.seed, workerData.dir));
}
