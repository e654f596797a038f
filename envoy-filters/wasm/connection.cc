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
  // The connection is the session's lifetime: its relays go with it.
  while (!relays_.empty()) dropRelay(relays_.size() - 1, true);
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
          client_held_ = size;
          verdict = settleClient();
        }
      } else if (end_of_stream) {
        // The client gave up before a whole request: nothing to route or answer.
        closeClient();
      }
      publish();
      return verdict;
    }
    case State::Routed: {
      const size_t parsed = static_cast<size_t>(static_cast<int64_t>(client_held_) + client_shift_);
      if (size > parsed) {
        feed(client_, parsed, size);
        client_held_ += size - parsed;
      }
      publishRtp(client_, false);
      publish();
      if (client_.parser.failed()) {
        closeClient();
        return Verdict::Pause;
      }
      return settleClient();
    }
    case State::Refused:
    case State::Closed:
      // Nothing more goes upstream: the connection is on its way out.
      host_.replaceData(Direction::ClientToServer, size, {});
      closeClient();
      return Verdict::Continue;
  }
  return Verdict::Continue;
}

// Applies the edits parsing decided, then lets the held bytes go unless a
// head is still incomplete or a SETUP waits for its relays.
Verdict RtspConnection::settleClient() {
  applyEdits(Direction::ClientToServer, client_held_);
  if (held_setup_ || client_.parser.inHead()) return Verdict::Pause;
  client_base_ += client_held_;
  client_held_ = 0;
  client_shift_ = 0;
  return Verdict::Continue;
}

Verdict RtspConnection::onServerData(size_t size, bool /*end_of_stream*/) {
  if (state_ != State::Routed) return Verdict::Continue;  // a refusal coming back from the echo
  feed(server_, 0, size);
  applyEdits(Direction::ServerToClient, size);
  server_base_ += size;
  publishRtp(server_, false);
  publish();
  if (server_.parser.failed()) {
    closeClient();
    return Verdict::Pause;
  }
  return Verdict::Continue;
}

// Edits lie in ascending stream order and past what was already passed on
// (their messages were checked to start in held bytes). Applied last first,
// each one's offsets are still those of the bytes as held. An edit reaching
// past the held bytes (an answer's body still to come) keeps its rest for
// the next callback.
void RtspConnection::applyEdits(Direction direction, size_t held) {
  const bool client = direction == Direction::ClientToServer;
  std::vector<Edit>& edits = client ? client_edits_ : server_edits_;
  if (edits.empty()) return;
  const uint64_t base = client ? client_base_ : server_base_;
  const int64_t shift = client ? client_shift_ : 0;
  const uint64_t held_end = base + held;
  std::vector<Edit> later;
  int64_t delta = 0;
  for (size_t i = edits.size(); i-- > 0;) {
    Edit& e = edits[i];
    if (e.begin >= held_end) {
      later.insert(later.begin(), std::move(e));
      continue;
    }
    const uint64_t end = std::min(e.end, held_end);
    if (e.end > held_end) later.insert(later.begin(), Edit{held_end, e.end, std::string()});
    const size_t start = static_cast<size_t>(static_cast<int64_t>(e.begin - base) + shift);
    const size_t length = static_cast<size_t>(end - e.begin);
    if (!host_.replaceData(direction, start, length, e.bytes)) {
      host_.log(LogLevel::Warn, "cannot edit the connection's bytes");
      continue;
    }
    delta += static_cast<int64_t>(e.bytes.size()) - static_cast<int64_t>(length);
  }
  edits = std::move(later);
  if (client) client_shift_ += delta;
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
  rtsp::SessionHeader request_session;
  if (!relays_.empty() && request.session(request_session)) refreshRelays(request_session.id);
  if (method == Method::Setup) {
    onSetupRequest(request);
  } else if (method == Method::Teardown) {
    uint32_t cseq = 0;
    rtsp::SessionHeader session;
    if (request.cseq(cseq) && request.session(session)) {
      remember({cseq, PendingKind::Teardown, 0, std::string(session.id), 0, std::string()});
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

// The route's transport rule keeps only the transports it allows (none
// left: 461), and a UDP unicast transport asks for relays when the filter
// has them. Anything it cannot act on (no Transport, one it cannot parse, a
// body) goes on untouched: the server answers it as it would without us.
void RtspConnection::onSetupRequest(const rtsp::Message& request) {
  uint32_t cseq = 0;
  if (!request.cseq(cseq)) return;
  PendingRequest pending{cseq, PendingKind::Setup, host_.monotonicNanos(), std::string(), 0, std::string()};
  std::optional<std::string_view> value = request.find("Transport");
  std::vector<rtsp::TransportSpec> offered;
  if (value && request.contentLength() == 0 && rtsp::parseTransport(*value, offered)) {
    std::vector<rtsp::TransportSpec> allowed;
    for (rtsp::TransportSpec& spec : offered) {
      const rtsp::LowerTransport lower = spec.lowerTransport();
      const bool ok = route_->transport == Transport::Auto ||
                      (route_->transport == Transport::Tcp && lower == rtsp::LowerTransport::Tcp) ||
                      (route_->transport == Transport::Udp && lower == rtsp::LowerTransport::Udp);
      if (ok) allowed.push_back(std::move(spec));
    }
    const size_t offered_count = offered.size();
    if (allowed.empty()) {
      count(Stat::TransportRefused);
      sendInPlaceOf(request, cseq, pending, 461);
    } else if (config_.relays && allowed.front().lowerTransport() == rtsp::LowerTransport::Udp &&
               !allowed.front().isMulticast() && allowed.front().clientPort()) {
      // The first choice is the one relayed; the others are dropped so the server cannot pick one we did not relay.
      allowed.resize(1);
      askForRelays(request, cseq, std::move(allowed), pending);
    } else if (allowed.size() != offered_count) {
      const std::string transport = rtsp::serializeTransport(allowed);
      const rtsp::HeaderEdit edit{"Transport", transport};
      std::string head;
      if (request.rewrite(&edit, 1, head)) {
        client_edits_.push_back(Edit{request.streamOffset(), request.streamOffset() + request.head().size(), head});
      }
    }
  }
  remember(std::move(pending));
}

void RtspConnection::askForRelays(const rtsp::Message& request, uint32_t cseq,
                                  std::vector<rtsp::TransportSpec> transport, PendingRequest& pending) {
  count(Stat::RelaysRequested);
  const rtsp::PortRange ports = *transport.front().clientPort();
  const std::string client_address = host_.clientAddress();
  const std::string_view client_ip = hostOfAddress(client_address);
  const std::string node = host_.nodeId();
  const uint64_t connection = host_.connectionId();
  if (held_setup_ || relays_.size() >= kMaxRelays || client_ip.empty() || node.empty() || connection == 0) {
    if (held_setup_ || relays_.size() >= kMaxRelays) {
      host_.log(LogLevel::Warn, "too many relayed streams on one connection; answering 503");
    } else {
      host_.log(LogLevel::Warn, "cannot ask for relays without the proxy's node id (\"" + node +
                                    "\"), the client's address (\"" + client_address + "\") and the connection id (" +
                                    std::to_string(connection) + "); answering 503");
    }
    count(Stat::RelaysFailed);
    sendInPlaceOf(request, cseq, pending, 503);
    return;
  }
  Relay relay;
  relay.id = std::to_string(connection) + "-" + std::to_string(cseq);
  relay.client_ports = ports;
  const PortPair client{ports.first, static_cast<uint16_t>(ports.is_range ? ports.last : ports.first + 1)};
  uint32_t token = 0;
  if (!host_.httpCall(config_.relays->cluster, "POST", kRelaySessionsPath,
                      openRelayBody(node, relay.id, client_ip, client), config_.relays->timeout_ms, token)) {
    host_.log(LogLevel::Warn, "cannot call the control plane's relay API; answering 503");
    count(Stat::RelaysFailed);
    sendInPlaceOf(request, cseq, pending, 503);
    return;
  }
  pending.relay = relay.id;
  relays_.push_back(std::move(relay));
  host_.incrementMetric(stats_.id(Stat::RelaysActive), 1);
  held_setup_ = HeldSetup{token, cseq, request.streamOffset(), std::string(request.head()), std::move(transport),
                          host_.monotonicNanos()};
}

void RtspConnection::onHttpAnswer(uint32_t token, uint32_t status, std::string_view body) {
  if (held_setup_ && held_setup_->token == token) {
    onRelayGrant(status, body);
    return;
  }
  if (status < 200 || status >= 300) {
    std::string message = "the control plane's relay API answered ";
    appendNumber(message, status);
    message += status == 0 ? " (no answer)" : "";
    host_.log(LogLevel::Warn, message);
  }
}

// The held SETUP goes on: with the relays' ports when granted, as `OPTIONS *`
// standing in for a 503 when not.
void RtspConnection::onRelayGrant(uint32_t status, std::string_view body) {
  HeldSetup setup = std::move(*held_setup_);
  held_setup_.reset();
  if (state_ != State::Routed || finished_) return;  // closed meanwhile (finish() ended its relays)
  const uint64_t now = host_.monotonicNanos();
  host_.recordMetric(stats_.id(Stat::RelayWaitUs), now > setup.asked_ns ? (now - setup.asked_ns) / 1000 : 0);
  PendingRequest* pending = nullptr;
  for (PendingRequest& p : pending_) {
    if (p.kind == PendingKind::Setup && p.cseq == setup.cseq) pending = &p;
  }
  Relay* relay = pending != nullptr ? findRelay(pending->relay) : nullptr;
  RelayGrant grant;
  std::string head;
  if (status == 200 && relay != nullptr && parseRelayGrant(body, grant)) {
    relay->grant = grant;
    relay->granted = true;
    setup.transport.front().setClientPort(rtsp::PortRange::pair(grant.to_client.rtp, grant.to_client.rtcp));
    // Media goes where the proxy says; a destination of the client's own would bypass it.
    setup.transport.front().remove("destination");
    const std::string transport = rtsp::serializeTransport(setup.transport);
    const rtsp::HeaderEdit edit{"Transport", transport};
    // The head was checked once; a scratch parser gives back its Message to rewrite.
    struct Capture final : rtsp::ParserCallbacks {
      const rtsp::HeaderEdit* edit;
      std::string* out;
      bool ok = false;
      void onHeadersComplete(const rtsp::Message& m) override { ok = m.rewrite(edit, 1, *out); }
    } capture;
    capture.edit = &edit;
    capture.out = &head;
    rtsp::RtspParser scratch(capture, config_.limits);
    scratch.feed(setup.head);
    if (capture.ok) {
      count(Stat::RelaysGranted);
      refreshed_ns_ = now;
    } else {
      head.clear();
    }
  }
  if (head.empty()) {
    std::string message = "no relays for a SETUP (the control plane answered ";
    appendNumber(message, status);
    message += status == 0 ? ": no answer in time" : "";
    message += "); answering 503";
    host_.log(LogLevel::Warn, message);
    count(Stat::RelaysFailed);
    // Without an answer the control plane may still have opened them.
    if (relay != nullptr) dropRelay(static_cast<size_t>(relay - relays_.data()), status == 200 || status == 0);
    head = "OPTIONS * ";
    head += rtsp::versionText(rtsp::Version::Rtsp10);
    head += "\r\nCSeq: ";
    appendNumber(head, setup.cseq);
    head += "\r\n\r\n";
    if (pending != nullptr) {
      pending->answer = 503;
      pending->relay.clear();
    }
  }
  client_edits_.push_back(Edit{setup.head_offset, setup.head_offset + setup.head.size(), std::move(head)});
  publish();
  if (settleClient() == Verdict::Continue) host_.resumeClient();
}

// The request goes on as `OPTIONS *` (which any server answers without
// side effects), and its answer is replaced with `answer`.
void RtspConnection::sendInPlaceOf(const rtsp::Message& request, uint32_t cseq, PendingRequest& pending,
                                   uint16_t answer) {
  std::string head = "OPTIONS * ";
  head += rtsp::versionText(request.version());
  head += "\r\nCSeq: ";
  appendNumber(head, cseq);
  head += "\r\n\r\n";
  client_edits_.push_back(Edit{request.streamOffset(), request.streamOffset() + request.head().size(), std::move(head)});
  pending.answer = answer;
}

void RtspConnection::answerInPlaceOf(const rtsp::Message& response, const PendingRequest& request) {
  if (response.streamOffset() < server_base_) {
    count(Stat::RelayRewriteFailed);
    host_.log(LogLevel::Warn, "the answer to replace had already gone on");
    return;
  }
  std::string answer;
  answer += rtsp::versionText(response.version());
  answer.push_back(' ');
  appendNumber(answer, request.answer);
  answer += request.answer == 461 ? " Unsupported Transport" : " Service Unavailable";
  answer += "\r\nCSeq: ";
  appendNumber(answer, request.cseq);
  answer += "\r\n\r\n";
  const uint64_t begin = response.streamOffset();
  server_edits_.push_back(Edit{begin, begin + response.head().size() + response.contentLength(), std::move(answer)});
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
    if (request.answer != 0) answerInPlaceOf(response, request);
    else if (request.kind == PendingKind::Setup) onSetupResponse(response, request);
    else if (ok) endSession(request.session);
    return;
  }
}

// The SETUP latency, a new Session, and for a relayed stream the reply's
// Transport, rewritten here and now: Envoy cannot resume server bytes once
// paused.
void RtspConnection::onSetupResponse(const rtsp::Message& response, const PendingRequest& setup) {
  Relay* relay = setup.relay.empty() ? nullptr : findRelay(setup.relay);
  if (response.statusCode() < 200 || response.statusCode() >= 300) {
    if (relay != nullptr) dropRelay(static_cast<size_t>(relay - relays_.data()), true);
    return;
  }
  const uint64_t now = host_.monotonicNanos();
  host_.recordMetric(stats_.id(Stat::SetupLatencyUs), now > setup.sent_ns ? (now - setup.sent_ns) / 1000 : 0);
  if (relay != nullptr) completeRelay(*relay, response);
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

void RtspConnection::completeRelay(Relay& relay, const rtsp::Message& response) {
  rtsp::SessionHeader session;
  if (response.session(session)) relay.session.assign(session.id.data(), session.id.size());
  std::optional<std::string_view> value = response.find("Transport");
  std::vector<rtsp::TransportSpec> transport;
  if (!value || !rtsp::parseTransport(*value, transport) || transport.empty()) {
    host_.log(LogLevel::Warn, "a relayed SETUP's reply has no Transport the filter can read");
    count(Stat::RelayRewriteFailed);
    return;
  }
  rtsp::TransportSpec& spec = transport.front();
  const std::optional<rtsp::PortRange> server_ports = spec.serverPort();
  // The host this connection reached, not the reply's `source`: a server must
  // not be able to point the proxy's relay (the client's RTCP) at a third party.
  const std::string upstream = host_.serverAddress();
  const std::string server_ip(hostOfAddress(upstream));
  const std::string local = config_.relays->source == RelayConfig::Source::Local ? host_.localAddress()
                                                                                  : host_.clientAddress();
  spec.setClientPort(relay.client_ports);
  spec.setServerPort(rtsp::PortRange::pair(relay.grant.to_server.rtp, relay.grant.to_server.rtcp));
  if (!hostOfAddress(local).empty()) spec.set("source", hostOfAddress(local));
  const std::string rewritten = rtsp::serializeTransport(transport);
  const rtsp::HeaderEdit edit{"Transport", rewritten};
  std::string head;
  if (response.streamOffset() < server_base_ || !response.rewrite(&edit, 1, head)) {
    // The client keeps the server's own ports: its media still comes through the relay, its RTCP goes direct.
    count(Stat::RelayRewriteFailed);
    host_.log(LogLevel::Warn, "cannot rewrite a relayed SETUP's reply");
  } else {
    server_edits_.push_back(Edit{response.streamOffset(), response.streamOffset() + response.head().size(), head});
  }
  if (!server_ports || server_ip.empty()) return;
  const PortPair server{server_ports->first,
                        static_cast<uint16_t>(server_ports->is_range ? server_ports->last : server_ports->first + 1)};
  uint32_t token = 0;
  if (!host_.httpCall(config_.relays->cluster, "PUT", relaySessionPath(host_.nodeId(), relay.id, "/server"),
                      serverRelayBody(server_ip, server), config_.relays->timeout_ms, token)) {
    host_.log(LogLevel::Warn, "cannot tell the control plane the server's ports");
  }
}

RtspConnection::Relay* RtspConnection::findRelay(std::string_view id) {
  for (Relay& r : relays_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

void RtspConnection::dropRelay(size_t i, bool tell_control_plane) {
  if (i >= relays_.size()) return;
  if (tell_control_plane && config_.relays) {
    uint32_t token = 0;
    host_.httpCall(config_.relays->cluster, "DELETE", relaySessionPath(host_.nodeId(), relays_[i].id), {},
                   config_.relays->timeout_ms, token);
  }
  relays_.erase(relays_.begin() + static_cast<std::ptrdiff_t>(i));
  host_.incrementMetric(stats_.id(Stat::RelaysActive), -1);
}

// At most every third of the shortest relay timeout, so keep-alives every
// few seconds cost the control plane nothing.
void RtspConnection::refreshRelays(std::string_view session) {
  uint32_t timeout_ms = 0;
  for (const Relay& r : relays_) {
    if (r.granted && r.session == session && (timeout_ms == 0 || r.grant.timeout_ms < timeout_ms)) {
      timeout_ms = r.grant.timeout_ms;
    }
  }
  const uint64_t now = host_.monotonicNanos();
  if (timeout_ms == 0 || now - refreshed_ns_ < uint64_t{timeout_ms} * 1'000'000 / 3) return;
  refreshed_ns_ = now;
  const std::string node = host_.nodeId();
  for (const Relay& r : relays_) {
    if (!r.granted || r.session != session) continue;
    uint32_t token = 0;
    host_.httpCall(config_.relays->cluster, "POST", relaySessionPath(node, r.id, "/refresh"), {},
                   config_.relays->timeout_ms, token);
  }
}

void RtspConnection::endSession(std::string_view id) {
  for (size_t i = relays_.size(); i-- > 0;) {
    if (relays_[i].session == id) dropRelay(i, true);
  }
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
