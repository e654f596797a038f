#include "connection.h"

#include <algorithm>
#include <cstring>

#include "rtsp/rtsp_url.h"

namespace mediamesh {
namespace rtsp_filter {

namespace {

rtp::TrackerConfig trackerConfig() {
  rtp::TrackerConfig config;
  // One RTSP connection carries a handful of streams (audio, video).
  config.max_sources = 8;
  return config;
}

void appendNumber(std::string& out, uint64_t n) {
  char digits[24];
  size_t len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (len > 0) out.push_back(digits[--len]);
}

Stat responseClass(uint16_t status) noexcept {
  if (status < 200) return Stat::Responses1xx;
  if (status < 300) return Stat::Responses2xx;
  if (status < 400) return Stat::Responses3xx;
  if (status < 500) return Stat::Responses4xx;
  return Stat::Responses5xx;
}

uint64_t roundMicros(double micros) noexcept {
  if (!(micros > 0.0)) return 0;
  if (micros >= 1.8e19) return UINT64_MAX;
  return static_cast<uint64_t>(micros + 0.5);
}

}  // namespace

RtspConnection::RtspConnection(const FilterConfig& config, const RouteStats& stats, Host& host)
    : config_(config),
      stats_(stats),
      host_(host),
      created_ns_(host.monotonicNanos()),
      client_(*this, Direction::ClientToServer, config.limits),
      server_(*this, Direction::ServerToClient, config.limits) {
  count(Stat::ConnectionsTotal);
  host_.incrementMetric(stats_.id(Stat::ConnectionsActive), 1);
  pending_.reserve(kMaxPendingRequests);
}

RtspConnection::~RtspConnection() { finish(); }

void RtspConnection::finish() {
  if (finished_) return;
  finished_ = true;
  publishRtp(client_, true);
  publishRtp(server_, true);
  publish();
  if (!sessions_.empty()) host_.incrementMetric(stats_.id(Stat::SessionsActive), -static_cast<int64_t>(sessions_.size()));
  sessions_.clear();
  host_.incrementMetric(stats_.id(Stat::ConnectionsActive), -1);
}

Verdict RtspConnection::onClientData(size_t size, bool end_of_stream) {
  switch (state_) {
    case State::AwaitingRequest: {
      feed(client_, std::min(fed_, size), size);
      fed_ = size;
      Verdict verdict = Verdict::Pause;
      if (client_.parser.failed() || decision_ == Decision::BadRequest) {
        const bool version = client_.parser.error() == rtsp::ParseError::UnsupportedVersion;
        count(Stat::BadRequests);
        refuse(version ? 505 : 400, version ? "RTSP Version Not Supported" : "Bad Request", size);
        verdict = Verdict::Continue;
      } else if (decision_ == Decision::NoRoute) {
        count(Stat::NoRoute);
        refuse(404, "Not Found", size);
        verdict = Verdict::Continue;
      } else if (decision_ == Decision::Route) {
        if (!host_.setFilterState(kTcpProxyClusterKey, route_->cluster)) {
          host_.log(LogLevel::Error, "cannot set envoy.tcp_proxy.cluster; closing the connection");
          closeClient();
        } else {
          state_ = State::Routed;
          fed_ = 0;
          verdict = Verdict::Continue;
        }
      } else if (end_of_stream) {
        // The client gave up before a whole request: nothing to route or answer.
        closeClient();
      }
      publish();
      return verdict;
    }
    case State::Routed:
      feed(client_, 0, size);
      publishRtp(client_, false);
      publish();
      if (client_.parser.failed()) {
        closeClient();
        return Verdict::Pause;
      }
      return Verdict::Continue;
    case State::Refused:
    case State::Closed:
      // Nothing more goes upstream: the connection is on its way out.
      host_.replaceData(Direction::ClientToServer, size, {});
      closeClient();
      return Verdict::Continue;
  }
  return Verdict::Continue;
}

Verdict RtspConnection::onServerData(size_t size, bool /*end_of_stream*/) {
  if (state_ != State::Routed) return Verdict::Continue;  // a refusal coming back from the echo
  feed(server_, 0, size);
  publishRtp(server_, false);
  publish();
  if (server_.parser.failed()) {
    closeClient();
    return Verdict::Pause;
  }
  return Verdict::Continue;
}

void RtspConnection::onFirstRequestTimeout() {
  if (state_ != State::AwaitingRequest) return;
  host_.log(LogLevel::Debug, "no complete first request in time; closing");
  closeClient();
}

void RtspConnection::feed(Side& side, size_t from, size_t to) {
  while (from < to && !side.parser.failed()) {
    BytesView view;
    if (!host_.readData(side.direction_, from, std::min(to - from, kReadChunk), view) || view.size == 0) {
      host_.log(LogLevel::Warn, "cannot read the connection's bytes from the host");
      return;
    }
    count(side.direction_ == Direction::ClientToServer ? Stat::BytesClientToServer : Stat::BytesServerToClient,
          view.size);
    side.parser.feed(view.data, view.size);
    from += view.size;
  }
}

void RtspConnection::onMessage(Direction direction, const rtsp::Message& message) {
  if (direction == Direction::ClientToServer) {
    if (message.isRequest()) {
      onClientRequest(message);
    } else if (state_ == State::AwaitingRequest && decision_ == Decision::None) {
      // A client must open with a request.
      decision_ = Decision::BadRequest;
    }
    return;
  }
  if (message.isRequest()) {
    count(Stat::RequestsFromServer);
  } else {
    onServerResponse(message);
  }
}

void RtspConnection::onClientRequest(const rtsp::Message& request) {
  request_deltas_[index(methodOf(request.method()))] += 1;
  if (state_ == State::AwaitingRequest && decision_ == Decision::None) chooseRoute(request);
  if (decision_ != Decision::Route) return;  // refused: its other requests are never seen by a server
  const Method method = methodOf(request.method());
  if (method == Method::Setup) {
    onSetupRequest(request);
  } else if (method == Method::Teardown) {
    uint32_t cseq = 0;
    rtsp::SessionHeader session;
    if (request.cseq(cseq) && request.session(session)) {
      remember({cseq, PendingKind::Teardown, 0, std::string(session.id)});
    }
  }
}

void RtspConnection::chooseRoute(const rtsp::Message& request) {
  have_first_request_ = true;
  first_version_ = request.version();
  first_has_cseq_ = request.cseq(first_cseq_);
  rtsp::RtspUrl url;
  const char* why = nullptr;
  if (!rtsp::splitUrl(request.url(), url, rtsp::UrlLimits{}, &why)) {
    decision_ = Decision::BadRequest;
    return;
  }
  route_ = config_.match(url.host, url.path, url.is_asterisk);
  decision_ = route_ != nullptr ? Decision::Route : Decision::NoRoute;
}

// Today: remember when the SETUP left, for the latency and the Session it
// opens. UDP transport relays will start here: read the Transport header,
// ask the control plane for relay ports (pausing the client's bytes, the one
// direction Envoy can resume), and rewrite client_port.
void RtspConnection::onSetupRequest(const rtsp::Message& request) {
  uint32_t cseq = 0;
  if (!request.cseq(cseq)) return;
  remember({cseq, PendingKind::Setup, host_.monotonicNanos(), std::string()});
}

void RtspConnection::remember(PendingRequest request) {
  if (pending_.size() == kMaxPendingRequests) pending_.erase(pending_.begin());  // never answered
  pending_.push_back(std::move(request));
}

void RtspConnection::onServerResponse(const rtsp::Message& response) {
  count(responseClass(response.statusCode()));
  uint32_t cseq = 0;
  if (!response.cseq(cseq)) return;
  for (size_t i = pending_.size(); i-- > 0;) {
    if (pending_[i].cseq != cseq) continue;
    PendingRequest request = std::move(pending_[i]);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    const bool ok = response.statusCode() >= 200 && response.statusCode() < 300;
    if (request.kind == PendingKind::Setup) onSetupResponse(response, request);
    else if (ok) endSession(request.session);
    return;
  }
}

// Today: the SETUP latency and a new Session. UDP relays will complete here
// (the server's server_port) and rewrite the reply's Transport synchronously:
// Envoy cannot resume server bytes once paused.
void RtspConnection::onSetupResponse(const rtsp::Message& response, const PendingRequest& setup) {
  if (response.statusCode() < 200 || response.statusCode() >= 300) return;
  const uint64_t now = host_.monotonicNanos();
  host_.recordMetric(stats_.id(Stat::SetupLatencyUs), now > setup.sent_ns ? (now - setup.sent_ns) / 1000 : 0);
  rtsp::SessionHeader session;
  if (!response.session(session)) return;
  for (const std::string& id : sessions_) {
    if (id == session.id) return;  // another stream of a session already counted
  }
  count(Stat::SessionsTotal);
  if (sessions_.size() < kMaxTrackedSessions) {
    sessions_.emplace_back(session.id);
    host_.incrementMetric(stats_.id(Stat::SessionsActive), 1);
  }
}

void RtspConnection::endSession(std::string_view id) {
  for (size_t i = 0; i < sessions_.size(); ++i) {
    if (sessions_[i] != id) continue;
    sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(i));
    host_.incrementMetric(stats_.id(Stat::SessionsActive), -1);
    return;
  }
}

void RtspConnection::onInterleaved(Side& side, const rtsp::InterleavedFrame& frame) {
  if (state_ == State::AwaitingRequest && decision_ == Decision::None) {
    decision_ = Decision::BadRequest;  // media before any request: not an RTSP client
    return;
  }
  if (frame.channel % 2 != 0) {
    count(Stat::RtcpPackets);
    return;
  }
  if (!side.tracker) side.tracker = std::make_unique<rtp::RtpTracker>(trackerConfig());
  side.tracker->onDatagram(frame.data, frame.length, host_.monotonicNanos());
}

void RtspConnection::onParseError(Direction direction, rtsp::ParseError error, std::string_view reason) {
  count(Stat::ParseErrors);
  std::string message = direction == Direction::ClientToServer ? "malformed RTSP from the client: "
                                                                 : "malformed RTSP from the server: ";
  message += rtsp::parseErrorName(error);
  message += " (";
  message.append(reason.data(), reason.size());
  message += ")";
  host_.log(LogLevel::Debug, message);
}

void RtspConnection::refuse(uint16_t status, std::string_view reason, size_t held) {
  if (!first_has_cseq_ && client_.parser.failed() && client_.parser.message().isRequest()) {
    // Cut short in its headers: answer with its CSeq if that header came before the fault.
    first_has_cseq_ = client_.parser.message().cseq(first_cseq_);
  }
  std::string reply;
  reply.reserve(96);
  reply.append(rtsp::versionText(have_first_request_ ? first_version_ : rtsp::Version::Rtsp10));
  reply.push_back(' ');
  appendNumber(reply, status);
  reply.push_back(' ');
  reply.append(reason);
  reply.append("\r\n");
  if (first_has_cseq_) {
    reply.append("CSeq: ");
    appendNumber(reply, first_cseq_);
    reply.append("\r\n");
  }
  reply.append("\r\n");
  state_ = State::Refused;
  std::string close_ms;
  appendNumber(close_ms, config_.reject_close_ms);
  // The cluster is tcp_proxy's default as well, should setting it fail.
  if (!host_.replaceData(Direction::ClientToServer, held, reply) ||
      !host_.setFilterState(kTcpProxyClusterKey, config_.reject_cluster) ||
      !host_.setFilterState(kTcpProxyIdleTimeoutKey, close_ms)) {
    host_.log(LogLevel::Warn, "cannot send the refusal; closing instead");
    closeClient();
  }
}

void RtspConnection::closeClient() {
  if (state_ != State::Refused) state_ = State::Closed;
  if (close_requested_) return;
  close_requested_ = true;
  host_.closeClient();
}

void RtspConnection::publish() {
  for (size_t i = 0; i < kStatCount; ++i) {
    if (deltas_[i] == 0) continue;
    host_.incrementMetric(stats_.id(static_cast<Stat>(i)), static_cast<int64_t>(deltas_[i]));
    deltas_[i] = 0;
  }
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (request_deltas_[i] == 0) continue;
    host_.incrementMetric(stats_.requestId(static_cast<Method>(i)), static_cast<int64_t>(request_deltas_[i]));
    request_deltas_[i] = 0;
  }
}

void RtspConnection::publishRtp(Side& side, bool final) {
  if (!side.tracker) return;
  if (final) side.tracker->flush();
  const rtp::RtpCounters& now = side.tracker->counters();
  rtp::RtpCounters& before = side.published;
  count(Stat::RtpPackets, now.packets - before.packets);
  count(Stat::RtpBytes, now.bytes - before.bytes);
  count(Stat::RtpExpected, now.expected - before.expected);
  count(Stat::RtpLost, now.lost - before.lost);
  count(Stat::RtpOutOfOrder, now.out_of_order - before.out_of_order);
  count(Stat::RtpDuplicates, now.duplicates - before.duplicates);
  count(Stat::RtpMalformed, (now.malformed + now.non_rtp) - (before.malformed + before.non_rtp));
  count(Stat::RtcpPackets, now.rtcp - before.rtcp);
  before = now;
  const uint64_t now_ns = host_.monotonicNanos();
  if (!final && now_ns - jitter_published_ns_ < kJitterPublishIntervalNs) return;
  const uint64_t jitter = roundMicros(side.tracker->jitterMicros());
  jitter_published_ns_ = now_ns;
  if (jitter == jitter_published_us_ || (final && jitter == 0)) return;
  jitter_published_us_ = jitter;
  host_.recordMetric(stats_.id(Stat::RtpJitterUs), jitter);
}

}  // namespace rtsp_filter
}  // namespace mediamesh
