// One client connection through an RtspRoute listener: the filter in front of
// tcp_proxy. tcp_proxy picks its cluster in its own onNewConnection, even with
// upstream_connect_mode ON_DOWNSTREAM_DATA, so the plugin pauses the filter
// chain at onNewConnection (plugin.cc): tcp_proxy starts only when the first
// client bytes are Continued, by then with envoy.tcp_proxy.cluster set, and in
// ON_DOWNSTREAM_DATA mode it takes (drains) every byte it is handed from then
// on, so each callback after routing carries only new bytes.
//
//   AwaitingRequest  client bytes are held (Pause) until the first request's
//                    head is complete; its URL picks a match, whose cluster goes
//                    into envoy.tcp_proxy.cluster, and the bytes go on.
//   Routed           every byte both ways is parsed for stats (requests by
//                    method, responses by class, sessions, SETUP latency,
//                    interleaved RTP through rtp::RtpTracker) and passed on.
//                    Client bytes are held while a request head is incomplete
//                    (it may be a SETUP to rewrite) and while a SETUP waits
//                    for its relays.
//   Refused          no match (404), a malformed first request (400) or an
//                    unsupported version (505): the held bytes are replaced by
//                    the answer, which goes to the reject cluster (an internal
//                    listener that echoes it), comes back as the server's
//                    bytes and reaches the client; tcp_proxy's idle timeout,
//                    set short through filter state, then closes. Envoy's Wasm
//                    network filter cannot write to the client directly.
//   Closed           malformed bytes after routing, or a client that gave up:
//                    the client is closed, nothing more is parsed.
//
// SETUP and its reply (onSetupRequest / onSetupResponse) are where the
// route's transport rule is enforced and UDP-transport relays are set up:
//
//   client SETUP client_port=a-b ──(held)── POST the control plane's relay API
//     granted: the SETUP goes on with client_port=<toClient ports>
//     refused: the SETUP goes on as `OPTIONS *`, and the server's answer to
//              it is replaced with 503 (or 461 when the rule refuses the
//              transport): Envoy's Wasm network filter cannot write to the
//              client itself, and a hold on the server's bytes cannot be
//              released, so the answer rides on a harmless request.
//   server 2xx server_port=c-d: rewritten synchronously to client_port=a-b,
//              server_port=<toServer ports>, source=<the proxy>; the server's
//              ports are sent to the control plane (PUT .../server) after.
//   TEARDOWN's 2xx, the connection's end: DELETE. Requests of the session
//              refresh it, so a stuck proxy's relays expire on their own.
//
// Edits to held bytes are decided while parsing and applied once the
// callback's bytes are parsed (offsets stay valid), last first.
//
// Allocation: the parsers' buffers grow to the largest head and split frame
// seen and are reused; an RTP tracker is made per direction at its first
// interleaved packet. Nothing is allocated per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filter_config.h"
#include "host.h"
#include "relay_calls.h"
#include "rtp/rtp_tracker.h"
#include "rtsp/rtsp_parser.h"
#include "rtsp/rtsp_transport.h"
#include "stats.h"

namespace mediamesh {
namespace rtsp_filter {

class RtspConnection {
 public:
  enum class State : uint8_t { AwaitingRequest, Routed, Refused, Closed };

  // Bytes read from the host per call: bounds the copy buffer.
  static constexpr size_t kReadChunk = 16 * 1024;
  static constexpr size_t kMaxPendingRequests = 16;
  static constexpr size_t kMaxTrackedSessions = 16;
  // Streams (SETUPs) of one connection relayed at once.
  static constexpr size_t kMaxRelays = 8;
  static constexpr uint64_t kJitterPublishIntervalNs = 500'000'000;

  RtspConnection(const FilterConfig& config, const RouteStats& stats, Host& host);
  ~RtspConnection();
  RtspConnection(const RtspConnection&) = delete;
  RtspConnection& operator=(const RtspConnection&) = delete;

  Verdict onClientData(size_t size, bool end_of_stream);
  Verdict onServerData(size_t size, bool end_of_stream);
  // The first request did not arrive in time: close without an answer.
  void onFirstRequestTimeout();
  // The answer to an HTTP call this connection made (status 0: it failed or
  // timed out). The host calls it with this connection's context current.
  void onHttpAnswer(uint32_t token, uint32_t status, std::string_view body);
  // Publishes what is left and takes this connection out of the gauges. Idempotent.
  void finish();

  State state() const noexcept { return state_; }
  uint64_t createdNanos() const noexcept { return created_ns_; }
  // The match the first request chose, if routed.
  const RouteMatch* route() const noexcept { return route_; }

 private:
  class Side final : public rtsp::ParserCallbacks {
   public:
    Side(RtspConnection& connection, Direction direction, const rtsp::ParserLimits& limits)
        : connection_(connection), direction_(direction), parser(*this, limits) {}
    void onHeadersComplete(const rtsp::Message& message) override { connection_.onMessage(direction_, message); }
    void onInterleavedFrame(const rtsp::InterleavedFrame& frame) override {
      connection_.onInterleaved(*this, frame);
    }
    void onError(rtsp::ParseError error, std::string_view reason) override {
      connection_.onParseError(direction_, error, reason);
    }

    RtspConnection& connection_;
    const Direction direction_;
    rtsp::RtspParser parser;
    std::unique_ptr<rtp::RtpTracker> tracker;
    rtp::RtpCounters published;  // tracker counters already published
  };

  enum class Decision : uint8_t { None, Route, NoRoute, BadRequest };
  enum class PendingKind : uint8_t { Setup, Teardown };
  struct PendingRequest {
    uint32_t cseq;
    PendingKind kind;
    uint64_t sent_ns;
    std::string session;  // Teardown: the Session it ends
    // Non-zero: the request went on as `OPTIONS *`; its answer becomes this status.
    uint16_t answer = 0;
    std::string relay;  // Setup with UDP relays: their id
  };

  // One relayed stream: the control plane knows it as `id`.
  struct Relay {
    std::string id;  // "<connection id>-<CSeq of its SETUP>"
    rtsp::PortRange client_ports;
    RelayGrant grant;
    std::string session;  // the RTSP Session its SETUP's reply named
    bool granted = false;
  };

  // A SETUP held until the control plane answers for its relays.
  struct HeldSetup {
    uint32_t token = 0;
    uint32_t cseq = 0;
    uint64_t head_offset = 0;  // stream offset of its start line
    std::string head;          // as received
    std::vector<rtsp::TransportSpec> transport;
    uint64_t asked_ns = 0;
  };

  // Bytes [begin, end) of one direction's stream become `bytes`.
  struct Edit {
    uint64_t begin;
    uint64_t end;
    std::string bytes;
  };

  void feed(Side& side, size_t from, size_t to);
  void onMessage(Direction direction, const rtsp::Message& message);
  void onClientRequest(const rtsp::Message& request);
  void onServerResponse(const rtsp::Message& response);
  void onSetupRequest(const rtsp::Message& request);
  void onSetupResponse(const rtsp::Message& response, const PendingRequest& setup);
  void askForRelays(const rtsp::Message& request, uint32_t cseq, std::vector<rtsp::TransportSpec> transport,
                    PendingRequest& pending);
  void onRelayGrant(uint32_t status, std::string_view body);
  void completeRelay(Relay& relay, const rtsp::Message& response);
  void dropRelay(size_t i, bool tell_control_plane);
  void refreshRelays(std::string_view session);
  Relay* findRelay(std::string_view id);
  void sendInPlaceOf(const rtsp::Message& request, uint32_t cseq, PendingRequest& pending, uint16_t answer);
  void answerInPlaceOf(const rtsp::Message& response, const PendingRequest& request);
  Verdict settleClient();
  void applyEdits(Direction direction, size_t held);
  void onInterleaved(Side& side, const rtsp::InterleavedFrame& frame);
  void onParseError(Direction direction, rtsp::ParseError error, std::string_view reason);
  void chooseRoute(const rtsp::Message& request);
  void refuse(uint16_t status, std::string_view reason, size_t held);
  void closeClient();
  void endSession(std::string_view id);
  void remember(PendingRequest request);
  void publish();
  void publishRtp(Side& side, bool final);

  void count(Stat s, uint64_t n = 1) noexcept { deltas_[index(s)] += n; }

  const FilterConfig& config_;
  const RouteStats& stats_;
  Host& host_;
  State state_ = State::AwaitingRequest;
  uint64_t created_ns_;
  Side client_;
  Side server_;

  // AwaitingRequest: bytes of the held buffer already fed to the parser.
  size_t fed_ = 0;
  // Routed: where the bytes the host holds stand in each stream. The client's
  // may be held across callbacks (and edited meanwhile); the server's never are.
  uint64_t client_base_ = 0;   // stream offset of the first held client byte
  size_t client_held_ = 0;     // stream bytes the host holds for the client
  int64_t client_shift_ = 0;   // held length minus client_held_, from edits applied
  uint64_t server_base_ = 0;
  std::vector<Edit> client_edits_;
  std::vector<Edit> server_edits_;
  std::optional<HeldSetup> held_setup_;
  std::vector<Relay> relays_;  // at most kMaxRelays
  uint64_t refreshed_ns_ = 0;
  Decision decision_ = Decision::None;
  const RouteMatch* route_ = nullptr;
  bool have_first_request_ = false;
  uint32_t first_cseq_ = 0;
  bool first_has_cseq_ = false;
  rtsp::Version first_version_ = rtsp::Version::Rtsp10;
  bool close_requested_ = false;
  bool finished_ = false;

  std::vector<PendingRequest> pending_;  // oldest first, at most kMaxPendingRequests
  std::vector<std::string> sessions_;    // at most kMaxTrackedSessions
  uint64_t deltas_[kStatCount] = {};
  uint64_t request_deltas_[kMethodCount] = {};
  uint64_t jitter_published_ns_ = 0;
  uint64_t jitter_published_us_ = UINT64_MAX;
};

}  // namespace rtsp_filter
}  // namespace mediamesh
