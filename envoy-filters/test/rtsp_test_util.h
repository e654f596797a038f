// Helpers for the RTSP parser tests: a callback sink that writes every event
// as a line of text, so that two runs over differently chunked input can be
// compared for equality, and the streams of a realistic camera session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rtsp/rtsp_parser.h"

namespace mediamesh {
namespace rtsp {
namespace testing {

// Body pieces are joined and frames recorded whole, so the log is the same
// however the input was cut; a piece whose offset does not continue the body
// (or a frame whose offset is wrong) shows up as a mismatch in the log.
class EventLog : public ParserCallbacks {
 public:
  std::vector<std::string> events;
  size_t errors = 0;

  void onRequestLine(std::string_view method, std::string_view url, Version version) override {
    events.push_back("request " + std::string(method) + " " + std::string(url) + " " +
                     std::string(versionText(version)));
  }
  void onStatusLine(Version version, uint16_t status, std::string_view reason) override {
    events.push_back("status " + std::string(versionText(version)) + " " + std::to_string(status) + " " +
                     std::string(reason));
  }
  void onHeader(std::string_view name, std::string_view value) override {
    events.push_back("header " + std::string(name) + ": " + std::string(value));
  }
  void onHeadersComplete(const Message& message) override {
    events.push_back("headers-complete length=" + std::to_string(message.contentLength()) +
                     " at=" + std::to_string(message.streamOffset()) +
                     " head=" + std::to_string(message.head().size()));
    body_size_ = 0;
  }
  void onBody(std::string_view piece, uint64_t offset) override {
    if (offset != body_size_) {
      events.push_back("body-offset-mismatch");
    }
    if (body_size_ == 0) {
      events.push_back("body ");
    }
    events.back().append(piece);
    body_size_ += piece.size();
  }
  void onMessageComplete(const Message&) override { events.push_back("complete"); }
  void onInterleavedFrame(const InterleavedFrame& frame) override {
    events.push_back("frame channel=" + std::to_string(frame.channel) + " at=" +
                     std::to_string(frame.stream_offset) + " " +
                     std::string(reinterpret_cast<const char*>(frame.data), frame.length));
  }
  void onError(ParseError error, std::string_view) override {
    ++errors;
    events.push_back(std::string("error ") + parseErrorName(error));
  }

 private:
  uint64_t body_size_ = 0;
};

inline std::string frame(uint8_t channel, std::string_view payload) {
  std::string out = "$";
  out.push_back(static_cast<char>(channel));
  out.push_back(static_cast<char>(payload.size() >> 8));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.append(payload);
  return out;
}

// Feeds `chunks` in order and returns the log.
inline std::vector<std::string> parseChunks(const std::vector<std::string_view>& chunks,
                                            const ParserLimits& limits = ParserLimits{}) {
  EventLog log;
  RtspParser parser(log, limits);
  for (std::string_view chunk : chunks) {
    parser.feed(chunk);
  }
  return log.events;
}

inline std::vector<std::string> parseWhole(std::string_view input, const ParserLimits& limits = ParserLimits{}) {
  return parseChunks({input}, limits);
}

// The SDP a GStreamer RTSP server answers DESCRIBE with, shortened.
inline const std::string& sessionSdp() {
  static const std::string sdp =
      "v=0\r\n"
      "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
      "s=Session streamed with GStreamer\r\n"
      "i=rtsp-server\r\n"
      "t=0 0\r\n"
      "a=tool:GStreamer\r\n"
      "a=type:broadcast\r\n"
      "a=control:*\r\n"
      "a=range:npt=0-\r\n"
      "m=video 0 RTP/AVP 96\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=rtpmap:96 VP8/90000\r\n"
      "a=control:stream=0\r\n";
  return sdp;
}

// A 12-byte RTP header plus payload, as RTP over RTSP carries on channel 0.
inline std::string rtpPacket(uint16_t seq, uint32_t timestamp, size_t payload) {
  std::string p;
  p.push_back(static_cast<char>(0x80));
  p.push_back(96);
  p.push_back(static_cast<char>(seq >> 8));
  p.push_back(static_cast<char>(seq));
  for (int i = 3; i >= 0; --i) {
    p.push_back(static_cast<char>(timestamp >> (8 * i)));
  }
  p.append("\x0a\x1b\x2c\x3d", 4);
  p.append(payload, 'v');
  return p;
}

// An RTCP receiver report as a client sends on channel 1.
inline std::string rtcpReceiverReport() { return std::string("\x81\xc9\x00\x07", 4) + std::string(28, '\x11'); }

// What an ffmpeg client sends in a TCP-transport session: OPTIONS,
// DESCRIBE, SETUP, PLAY, an RTCP report, a GET_PARAMETER keep-alive with a
// body, and TEARDOWN.
inline std::string clientStream() {
  return std::string(
             "OPTIONS rtsp://cam.example:8554/lobby RTSP/1.0\r\n"
             "CSeq: 1\r\n"
             "User-Agent: Lavf59.27.100\r\n"
             "\r\n"
             "DESCRIBE rtsp://cam.example:8554/lobby RTSP/1.0\r\n"
             "Accept: application/sdp\r\n"
             "CSeq: 2\r\n"
             "User-Agent: Lavf59.27.100\r\n"
             "\r\n"
             "SETUP rtsp://cam.example:8554/lobby/stream=0 RTSP/1.0\r\n"
             "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
             "CSeq: 3\r\n"
             "User-Agent: Lavf59.27.100\r\n"
             "\r\n"
             "PLAY rtsp://cam.example:8554/lobby/ RTSP/1.0\r\n"
             "Range: npt=0.000-\r\n"
             "CSeq: 4\r\n"
             "User-Agent: Lavf59.27.100\r\n"
             "Session: 6tLZOxWdPMCvjnh3\r\n"
             "\r\n") +
         frame(1, rtcpReceiverReport()) +
         "GET_PARAMETER rtsp://cam.example:8554/lobby/ RTSP/1.0\r\n"
         "CSeq: 5\r\n"
         "Session: 6tLZOxWdPMCvjnh3\r\n"
         "Content-Type: text/parameters\r\n"
         "Content-Length: 12\r\n"
         "\r\n"
         "packets_sent" +
         "TEARDOWN rtsp://cam.example:8554/lobby/ RTSP/1.0\r\n"
         "CSeq: 6\r\n"
         "Session: 6tLZOxWdPMCvjnh3\r\n"
         "\r\n";
}

// The server's side of the same session, with RTP and RTCP frames between
// the responses.
inline std::string serverStream() {
  return std::string(
             "RTSP/1.0 200 OK\r\n"
             "CSeq: 1\r\n"
             "Public: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, SETUP, PLAY, RECORD, TEARDOWN\r\n"
             "Server: GStreamer RTSP server\r\n"
             "Date: Sun, 30 Nov 2025 12:00:00 GMT\r\n"
             "\r\n"
             "RTSP/1.0 200 OK\r\n"
             "CSeq: 2\r\n"
             "Content-Type: application/sdp\r\n"
             "Content-Base: rtsp://cam.example:8554/lobby/\r\n"
             "Server: GStreamer RTSP server\r\n"
             "Content-Length: ") +
         std::to_string(sessionSdp().size()) + "\r\n\r\n" + sessionSdp() +
         "RTSP/1.0 200 OK\r\n"
         "CSeq: 3\r\n"
         "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0A1B2C3D;mode=\"PLAY\"\r\n"
         "Server: GStreamer RTSP server\r\n"
         "Session: 6tLZOxWdPMCvjnh3;timeout=60\r\n"
         "\r\n"
         "RTSP/1.0 200 OK\r\n"
         "CSeq: 4\r\n"
         "RTP-Info: url=rtsp://cam.example:8554/lobby/stream=0;seq=100;rtptime=90000\r\n"
         "Range: npt=0-\r\n"
         "Server: GStreamer RTSP server\r\n"
         "Session: 6tLZOxWdPMCvjnh3\r\n"
         "\r\n" +
         frame(0, rtpPacket(100, 90000, 1200)) + frame(0, rtpPacket(101, 90000, 300)) +
         frame(1, std::string("\x80\xc8\x00\x06", 4) + std::string(24, '\x22')) +
         "RTSP/1.0 200 OK\r\n"
         "CSeq: 5\r\n"
         "Server: GStreamer RTSP server\r\n"
         "Session: 6tLZOxWdPMCvjnh3\r\n"
         "Content-Length: 0\r\n"
         "\r\n" +
         frame(0, rtpPacket(102, 93000, 40)) +
         "RTSP/1.0 200 OK\r\n"
         "CSeq: 6\r\n"
         "Server: GStreamer RTSP server\r\n"
         "Session: 6tLZOxWdPMCvjnh3\r\n"
         "\r\n";
}

}  // namespace testing
}  // namespace rtsp
}  // namespace mediamesh
