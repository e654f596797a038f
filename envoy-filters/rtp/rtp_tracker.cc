#include "rtp/rtp_tracker.h"

#include <algorithm>
#include <cmath>

namespace mediamesh {
namespace rtp {

namespace {

constexpr uint32_t kSeqMod = 1u << 16;
// A.1 keeps bad_seq out of the 16-bit range until a jump is seen.
constexpr uint32_t kNoBadSeq = kSeqMod + 1;
// Beyond half the sequence space "behind" and "ahead" are indistinguishable;
// a packet that far off is treated as a jump, not as a late packet.
constexpr uint32_t kHalfSeqSpace = kSeqMod / 2;
// Bounds the table so slot numbers fit the int32 links.
constexpr size_t kMaxSourcesLimit = size_t{1} << 24;

}  // namespace

ClockRateMap ClockRateMap::defaults() noexcept {
  ClockRateMap map{};
  // RFC 3551 tables 4 and 5: static payload types have fixed clock rates.
  static constexpr struct {
    uint8_t pt;
    uint32_t hz;
  } kStatic[] = {
      {0, 8000},    // PCMU
      {3, 8000},    // GSM
      {4, 8000},    // G723
      {5, 8000},    // DVI4
      {6, 16000},   // DVI4
      {7, 8000},    // LPC
      {8, 8000},    // PCMA
      {9, 8000},    // G722 (RFC 3551 4.5.2: 8000 for historical reasons)
      {10, 44100},  // L16 stereo
      {11, 44100},  // L16 mono
      {12, 8000},   // QCELP
      {13, 8000},   // CN
      {14, 90000},  // MPA
      {15, 8000},   // G728
      {16, 11025},  // DVI4
      {17, 22050},  // DVI4
      {18, 8000},   // G729
      {25, 90000},  // CelB
      {26, 90000},  // JPEG
      {28, 90000},  // nv
      {31, 90000},  // H261
      {32, 90000},  // MPV
      {33, 90000},  // MP2T
      {34, 90000},  // H263
  };
  for (const auto& entry : kStatic) {
    map.hz[entry.pt] = entry.hz;
  }
  for (uint8_t pt = 96; pt < 128; ++pt) {
    map.hz[pt] = 90000;
  }
  return map;
}

void ClockRateMap::set(uint8_t pt, uint32_t rate) noexcept {
  if (pt < 128) {
    hz[pt] = rate;
  }
}

RtpTracker::RtpTracker(const TrackerConfig& config)
    : clock_rates_(config.clock_rates), source_timeout_ns_(config.source_timeout_ns) {
  const size_t capacity = std::clamp<size_t>(config.max_sources, 1, kMaxSourcesLimit);
  slots_.resize(capacity);
  index_bits_ = 2;
  while ((size_t{1} << index_bits_) < capacity * 2) {
    ++index_bits_;
  }
  index_.assign(size_t{1} << index_bits_, kNone);
}

// --- SSRC table -------------------------------------------------------------

size_t RtpTracker::indexHome(uint32_t ssrc) const noexcept {
  // Fibonacci hashing: SSRCs come from the network, and the top bits of the
  // product depend on every bit of the key.
  return static_cast<size_t>((uint64_t{ssrc} * 0x9E3779B97F4A7C15ull) >> (64 - index_bits_));
}

int32_t RtpTracker::findSlot(uint32_t ssrc) const noexcept {
  const size_t mask = index_.size() - 1;
  for (size_t i = indexHome(ssrc);; i = (i + 1) & mask) {
    const int32_t slot = index_[i];
    if (slot == kNone) {
      return kNone;
    }
    if (slots_[static_cast<size_t>(slot)].ssrc == ssrc) {
      return slot;
    }
  }
}

void RtpTracker::indexInsert(uint32_t ssrc, int32_t slot) noexcept {
  const size_t mask = index_.size() - 1;
  size_t i = indexHome(ssrc);
  while (index_[i] != kNone) {
    i = (i + 1) & mask;
  }
  index_[i] = slot;
}

void RtpTracker::indexErase(uint32_t ssrc) noexcept {
  const size_t mask = index_.size() - 1;
  size_t hole = indexHome(ssrc);
  while (index_[hole] != kNone && slots_[static_cast<size_t>(index_[hole])].ssrc != ssrc) {
    hole = (hole + 1) & mask;
  }
  if (index_[hole] == kNone) {
    return;
  }
  index_[hole] = kNone;
  // Backward-shift deletion: pull later entries of the probe run into the hole
  // when their home is not between the hole and where they sit, so lookups
  // never stop early at the hole and no tombstones accumulate.
  for (size_t j = (hole + 1) & mask; index_[j] != kNone; j = (j + 1) & mask) {
    const size_t home = indexHome(slots_[static_cast<size_t>(index_[j])].ssrc);
    const bool home_in_run = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_in_run) {
      index_[hole] = index_[j];
      index_[j] = kNone;
      hole = j;
    }
  }
}

void RtpTracker::lruUnlink(int32_t slot) noexcept {
  Source& s = slots_[static_cast<size_t>(slot)];
  if (s.newer != kNone) {
    slots_[static_cast<size_t>(s.newer)].older = s.older;
  } else {
    lru_newest_ = s.older;
  }
  if (s.older != kNone) {
    slots_[static_cast<size_t>(s.older)].newer = s.newer;
  } else {
    lru_oldest_ = s.newer;
  }
  s.newer = kNone;
  s.older = kNone;
}

void RtpTracker::lruPushFront(int32_t slot) noexcept {
  Source& s = slots_[static_cast<size_t>(slot)];
  s.newer = kNone;
  s.older = lru_newest_;
  if (lru_newest_ != kNone) {
    slots_[static_cast<size_t>(lru_newest_)].newer = slot;
  }
  lru_newest_ = slot;
  if (lru_oldest_ == kNone) {
    lru_oldest_ = slot;
  }
}

int32_t RtpTracker::acquireSlot(uint32_t ssrc, uint16_t first_seq) noexcept {
  int32_t slot;
  if (slots_used_ < slots_.size()) {
    slot = static_cast<int32_t>(slots_used_++);
  } else {
    slot = lru_oldest_;
    Source& victim = slots_[static_cast<size_t>(slot)];
    // Its open gaps can no longer be filled: report them now, or they would
    // vanish from both lost and pendingLost().
    finalizePending(victim);
    indexErase(victim.ssrc);
    lruUnlink(slot);
    ++counters_.sources_evicted;
  }
  ++counters_.sources_started;
  Source& s = slots_[static_cast<size_t>(slot)];
  s = Source{};
  s.ssrc = ssrc;
  // A.1: a new source starts on probation as if first_seq - 1 had been seen,
  // so first_seq itself counts as the first sequential packet.
  s.probation = kMinSequential;
  s.max_seq = static_cast<uint16_t>(first_seq - 1);
  s.bad_seq = kNoBadSeq;
  indexInsert(ssrc, slot);
  lruPushFront(slot);
  return slot;
}

// --- Sequence numbers (RFC 3550 A.1) ------------------------------------------

bool RtpTracker::testBit(const Source& s, uint64_t ext) noexcept {
  const uint64_t bit = ext % kReorderWindow;
  return (s.received[bit / 64] >> (bit % 64)) & 1u;
}

void RtpTracker::setBit(Source& s, uint64_t ext) noexcept {
  const uint64_t bit = ext % kReorderWindow;
  s.received[bit / 64] |= uint64_t{1} << (bit % 64);
}

void RtpTracker::clearBit(Source& s, uint64_t ext) noexcept {
  const uint64_t bit = ext % kReorderWindow;
  s.received[bit / 64] &= ~(uint64_t{1} << (bit % 64));
}

void RtpTracker::finalizePending(Source& s) noexcept {
  counters_.lost += s.pending_lost;
  pending_lost_ -= s.pending_lost;
  s.pending_lost = 0;
  s.floor_seq = s.cycles + s.max_seq + 1;
}

void RtpTracker::startSequence(Source& s, uint16_t seq) noexcept {
  // A new sequence (probation passed, or a resync) reuses nothing of the old
  // one: its gaps are final, its extended numbers restart from seq.
  finalizePending(s);
  s.probation = 0;
  s.max_seq = seq;
  s.cycles = 0;
  s.base_seq = seq;
  s.floor_seq = seq;
  s.bad_seq = kNoBadSeq;
  std::fill(std::begin(s.received), std::end(s.received), uint64_t{0});
  setBit(s, seq);
  counters_.expected += 1;
  // The timestamp base may have changed with the sequence; a D spanning the
  // two would be meaningless.
  s.has_transit_ref = false;
}

void RtpTracker::advance(Source& s, uint64_t old_max, uint64_t new_max) noexcept {
  const uint64_t distance = new_max - old_max;
  counters_.expected += distance;
  const uint64_t steps = std::min<uint64_t>(distance, kReorderWindow);
  for (uint64_t k = 1; k <= steps; ++k) {
    const uint64_t entering = old_max + k;
    // The sequence number leaving the window shares the bit with the one
    // entering; read it before reusing the bit.
    if (entering >= kReorderWindow) {
      const uint64_t leaving = entering - kReorderWindow;
      if (leaving >= s.floor_seq && !testBit(s, leaving)) {
        --s.pending_lost;
        --pending_lost_;
        ++counters_.lost;
      }
    }
    clearBit(s, entering);
  }
  // A jump wider than the window skips numbers that never were inside it.
  if (distance > kReorderWindow) {
    counters_.lost += distance - kReorderWindow;
  }
  s.pending_lost += steps - 1;
  pending_lost_ += steps - 1;
  setBit(s, new_max);
}

RtpTracker::SeqVerdict RtpTracker::updateSequence(Source& s, uint16_t seq) noexcept {
  if (s.probation > 0) {
    if (seq == static_cast<uint16_t>(s.max_seq + 1)) {
      --s.probation;
      s.max_seq = seq;
      if (s.probation == 0) {
        startSequence(s, seq);
        return SeqVerdict::New;
      }
    } else {
      s.probation = kMinSequential - 1;
      s.max_seq = seq;
    }
    return SeqVerdict::Unvalidated;
  }

  const uint64_t ext_max = s.cycles + s.max_seq;
  const uint16_t udelta = static_cast<uint16_t>(seq - s.max_seq);
  if (udelta == 0) {
    return SeqVerdict::Duplicate;
  }
  if (udelta < kMaxDropout) {
    if (seq < s.max_seq) {
      s.cycles += kSeqMod;
    }
    s.max_seq = seq;
    advance(s, ext_max, ext_max + udelta);
    return SeqVerdict::New;
  }

  const uint32_t behind = kSeqMod - udelta;
  const bool in_window = behind < kReorderWindow && behind <= ext_max && ext_max - behind >= s.base_seq;
  if (in_window) {
    // Inside the window we know what arrived, so a packet here is a gap fill,
    // a duplicate or (gap already final) late, never a restart. A.1 alone
    // would treat anything kMaxMisorder or more behind as a possible restart
    // and drop it, turning a filled gap into a false loss.
    const uint64_t ext = ext_max - behind;
    if (testBit(s, ext)) {
      return SeqVerdict::Duplicate;
    }
    if (ext < s.floor_seq) {
      return SeqVerdict::Late;
    }
    setBit(s, ext);
    --s.pending_lost;
    --pending_lost_;
    return SeqVerdict::NewOutOfOrder;
  }
  if (behind < kMaxMisorder) {
    return SeqVerdict::Late;  // before the start of this sequence
  }
  // A.1's very large jump: believe it only when the next packet follows it.
  if (seq == s.bad_seq) {
    ++counters_.resyncs;
    startSequence(s, seq);
    return SeqVerdict::New;
  }
  s.bad_seq = (seq + 1u) & (kSeqMod - 1);
  return behind <= kHalfSeqSpace ? SeqVerdict::Late : SeqVerdict::Unvalidated;
}

// --- Jitter (RFC 3550 A.8) ----------------------------------------------------

void RtpTracker::updateJitter(Source& s, const RtpHeaderView& header, uint64_t arrival_ns) noexcept {
  const uint32_t hz = clock_rates_.get(header.payload_type);
  if (hz == 0) {
    return;
  }
  if (s.has_transit_ref && s.ref_clock_hz == hz) {
    // D = (Rj - Ri) - (Sj - Si), taken as two differences rather than two
    // transit times so neither a 64-bit nanosecond clock nor a 32-bit RTP
    // timestamp has to be converted whole (no overflow, no lost fraction).
    // Kept in microseconds: J is linear in D, so this is A.8's J scaled by
    // 1e6 / hz, and stays meaningful if the payload type's clock changes.
    const auto arrival_delta_ns = static_cast<int64_t>(arrival_ns - s.ref_arrival_ns);
    const auto timestamp_delta = static_cast<int32_t>(header.timestamp - s.ref_timestamp);
    const double d_us = static_cast<double>(arrival_delta_ns) / 1e3 -
                        static_cast<double>(timestamp_delta) * 1e6 / static_cast<double>(hz);
    s.jitter_us += (std::fabs(d_us) - s.jitter_us) / 16.0;
  }
  s.has_transit_ref = true;
  s.ref_clock_hz = hz;
  s.ref_timestamp = header.timestamp;
  s.ref_arrival_ns = arrival_ns;
}

// --- Entry point and queries ------------------------------------------------------

PacketKind RtpTracker::onDatagram(const uint8_t* data, size_t length, uint64_t arrival_ns) noexcept {
  latest_arrival_ns_ = std::max(latest_arrival_ns_, arrival_ns);
  RtpHeaderView header;
  const PacketKind kind = parsePacket(data, length, header);
  switch (kind) {
    case PacketKind::Rtcp:
      ++counters_.rtcp;
      return kind;
    case PacketKind::NotRtp:
      ++counters_.non_rtp;
      return kind;
    case PacketKind::Malformed:
      ++counters_.malformed;
      return kind;
    case PacketKind::Rtp:
      break;
  }
  ++counters_.packets;
  counters_.bytes += length;

  int32_t slot = kNone;
  if (last_hit_ != kNone && slots_[static_cast<size_t>(last_hit_)].ssrc == header.ssrc) {
    slot = last_hit_;
  } else {
    slot = findSlot(header.ssrc);
  }
  if (slot == kNone) {
    slot = acquireSlot(header.ssrc, header.sequence);
  } else if (slot != lru_newest_) {
    lruUnlink(slot);
    lruPushFront(slot);
  }
  last_hit_ = slot;
  Source& s = slots_[static_cast<size_t>(slot)];
  s.last_arrival_ns = std::max(s.last_arrival_ns, arrival_ns);

  const SeqVerdict verdict = updateSequence(s, header.sequence);
  switch (verdict) {
    case SeqVerdict::Unvalidated:
      ++counters_.unvalidated;
      return kind;  // A.8 runs only on packets A.1 accepted
    case SeqVerdict::New:
      break;
    case SeqVerdict::NewOutOfOrder:
      ++counters_.out_of_order;
      break;
    case SeqVerdict::Duplicate:
      ++counters_.duplicates;
      break;
    case SeqVerdict::Late:
      ++counters_.out_of_order;
      ++counters_.late;
      break;
  }
  ++received_;
  counters_.cumulative_lost_rfc3550 =
      static_cast<int64_t>(counters_.expected) - static_cast<int64_t>(received_);
  updateJitter(s, header, arrival_ns);
  return kind;
}

bool RtpTracker::isActive(const Source& s) const noexcept {
  return latest_arrival_ns_ - s.last_arrival_ns <= source_timeout_ns_;
}

uint32_t RtpTracker::activeSources() const noexcept {
  uint32_t active = 0;
  for (size_t i = 0; i < slots_used_; ++i) {
    active += isActive(slots_[i]) ? 1 : 0;
  }
  return active;
}

double RtpTracker::jitterMicros() const noexcept {
  double worst = 0.0;
  for (size_t i = 0; i < slots_used_; ++i) {
    if (isActive(slots_[i])) {
      worst = std::max(worst, slots_[i].jitter_us);
    }
  }
  return worst;
}

bool RtpTracker::sourceJitterMicros(uint32_t ssrc, double& out) const noexcept {
  const int32_t slot = findSlot(ssrc);
  if (slot == kNone) {
    return false;
  }
  out = slots_[static_cast<size_t>(slot)].jitter_us;
  return true;
}

bool RtpTracker::sourceSnapshot(uint32_t ssrc, SourceSnapshot& out) const noexcept {
  const int32_t slot = findSlot(ssrc);
  if (slot == kNone) {
    return false;
  }
  const Source& s = slots_[static_cast<size_t>(slot)];
  out = SourceSnapshot{};
  out.ssrc = s.ssrc;
  out.validated = s.probation == 0;
  out.last_arrival_ns = s.last_arrival_ns;
  out.jitter_us = s.jitter_us;
  if (out.validated) {
    out.base_seq = s.base_seq;
    out.max_seq = s.cycles + s.max_seq;
    out.cycles = s.cycles >> 16;
    out.expected = out.max_seq - out.base_seq + 1;
    out.pending_lost = s.pending_lost;
  }
  return true;
}

void RtpTracker::flush() noexcept {
  for (size_t i = 0; i < slots_used_; ++i) {
    if (slots_[i].probation == 0) {
      finalizePending(slots_[i]);
    }
  }
}

}  // namespace rtp
}  // namespace mediamesh
