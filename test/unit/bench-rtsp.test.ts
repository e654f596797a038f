// bench:rtsp's pure parts: the RTSP player's wire parsing (responses,
// interleaved frames, Transport headers, the SDP's control URL), loss from
// RTP sequence numbers across the 16-bit wrap, and the bench's ramp and
// ABBA order.
import assert from 'node:assert/strict';
import { rampSteps } from '../../bench/rtsp/options.js';
import { RtpSequence, rtpSequenceNumber } from '../../bench/rtsp/rtp-sequence.js';
import { mediaControlUrl, parseTransport, sessionId, takeMessage } from '../../bench/rtsp/rtsp-wire.js';
import { abbaSides } from '../../bench/rtsp/setup-trials.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('bench:rtsp wire parsing', () => {
  it('takes a response with its body, and waits for a body cut across reads', () => {
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\n';
    const full = bytes(`RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`);
    assert.equal(takeMessage(full.subarray(0, full.length - 3)), undefined);
    const taken = takeMessage(Buffer.concat([full, bytes('$')]))!;
    assert.equal(taken.message.kind, 'response');
    if (taken.message.kind !== 'response') return;
    assert.equal(taken.message.response.status, 200);
    assert.equal(taken.message.response.headers.get('cseq'), '2');
    assert.equal(taken.message.response.body, sdp);
    assert.equal(taken.rest.toString('latin1'), '$');
  });

  it('takes interleaved frames between responses, by channel', () => {
    const frame = Buffer.from([0x24, 1, 0, 3, 7, 8, 9]);
    const taken = takeMessage(Buffer.concat([frame, bytes('RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n')]))!;
    assert.deepEqual(taken.message, { kind: 'interleaved', channel: 1, payload: Buffer.from([7, 8, 9]) });
    const next = takeMessage(taken.rest)!;
    assert.equal(next.message.kind === 'response' && next.message.response.headers.get('cseq'), '5');
    assert.equal(takeMessage(frame.subarray(0, 5)), undefined, 'a frame cut short waits');
  });

  it('skips a request from the server, and refuses what is not RTSP', () => {
    assert.deepEqual(takeMessage(bytes('GET_PARAMETER rtsp://h/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n'))?.message, { kind: 'request', method: 'GET_PARAMETER' });
    assert.throws(() => takeMessage(bytes('HTTP/1.1 200 OK\r\n\r\n')), /not an RTSP message/);
    assert.throws(() => takeMessage(bytes('RTSP/1.0 200 OK\r\nContent-Length: -4\r\n\r\n')), /Content-Length/);
    assert.throws(() => takeMessage(Buffer.alloc(70 * 1024, 0x41)), /no end of an RTSP head/);
  });

  it('reads the ports and channels of a Transport header', () => {
    assert.deepEqual(parseTransport('RTP/AVP;unicast;client_port=23490-23491;server_port=45920-45921;ssrc=81138B4D;mode="PLAY"'), { clientPort: [23490, 23491], serverPort: [45920, 45921] });
    assert.deepEqual(parseTransport('RTP/AVP/TCP;unicast;interleaved=0-1'), { interleaved: [0, 1] });
    assert.deepEqual(parseTransport('RTP/AVP;unicast;client_port=5000;source=10.0.0.1,RTP/AVP/TCP;interleaved=2-3'), { clientPort: [5000, 5001], source: '10.0.0.1' });
  });

  it('resolves the first media section\'s control URL against the Content-Base', () => {
    const sdp = 'v=0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=control:stream=0\r\nm=audio 0 RTP/AVP 97\r\na=control:stream=1\r\n';
    assert.equal(mediaControlUrl(sdp, 'rtsp://127.0.0.1:8554/cam1/'), 'rtsp://127.0.0.1:8554/cam1/stream=0');
    assert.equal(mediaControlUrl(sdp, 'rtsp://127.0.0.1:8554/cam1'), 'rtsp://127.0.0.1:8554/cam1/stream=0');
    assert.equal(mediaControlUrl('m=video 0 RTP/AVP 96\r\na=control:rtsp://other/x\r\n', 'rtsp://h/cam/'), 'rtsp://other/x');
    assert.equal(mediaControlUrl('m=video 0 RTP/AVP 96\r\n', 'rtsp://h/cam/'), 'rtsp://h/cam/');
    assert.equal(sessionId('ABCD1234;timeout=60'), 'ABCD1234');
    assert.equal(sessionId(undefined), undefined);
  });
});

describe('bench:rtsp loss from RTP sequence numbers', () => {
  const run = (seqs: number[]) => {
    const s = new RtpSequence();
    for (const q of seqs) s.push(q);
    return { received: s.received, expected: s.expected, lost: s.lost, outOfOrder: s.outOfOrder };
  };

  it('counts gaps as loss, and a late packet as reordering that fills its gap', () => {
    assert.deepEqual(run([10, 11, 13, 14]), { received: 4, expected: 5, lost: 1, outOfOrder: 0 });
    assert.deepEqual(run([10, 12, 11, 13]), { received: 4, expected: 4, lost: 0, outOfOrder: 1 });
  });

  it('extends the sequence across the 16-bit wrap', () => {
    assert.deepEqual(run([65534, 65535, 0, 2]), { received: 4, expected: 5, lost: 1, outOfOrder: 0 });
    assert.deepEqual(run([65535, 1, 0]), { received: 3, expected: 3, lost: 0, outOfOrder: 1 });
  });

  it('counts nothing before the first packet and no negative loss for duplicates', () => {
    assert.deepEqual(run([]), { received: 0, expected: 0, lost: 0, outOfOrder: 0 });
    assert.deepEqual(run([5, 5, 6]), { received: 3, expected: 2, lost: 0, outOfOrder: 0 });
  });

  it('reads the sequence number of RTP version 2 only', () => {
    const rtp = Buffer.alloc(12);
    rtp[0] = 0x80;
    rtp.writeUInt16BE(4321, 2);
    assert.equal(rtpSequenceNumber(rtp), 4321);
    assert.equal(rtpSequenceNumber(rtp.subarray(0, 11)), undefined);
    rtp[0] = 0x40;
    assert.equal(rtpSequenceNumber(rtp), undefined);
  });
});

describe('bench:rtsp ordering', () => {
  it('ramps 50, 100, 200, ... up to the bound', () => {
    assert.deepEqual(rampSteps(400), [50, 100, 200, 400]);
    assert.deepEqual(rampSteps(399), [50, 100, 200]);
    assert.deepEqual(rampSteps(20), [20]);
  });

  it('puts each side first as often as second', () => {
    const firsts = Array.from({ length: 50 }, (_, i) => abbaSides(i)[0]);
    assert.equal(firsts.filter((s) => s === 'direct').length, 25);
    assert.deepEqual(abbaSides(0), ['direct', 'mesh']);
    assert.deepEqual(abbaSides(1), ['mesh', 'direct']);
  });
});
