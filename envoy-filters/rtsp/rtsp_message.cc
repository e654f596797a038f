#include "rtsp/rtsp_message.h"

#include "rtsp/rtsp_text.h"

namespace mediamesh {
namespace rtsp {

std::string_view versionText(Version version) noexcept {
  return version == Version::Rtsp20 ? "RTSP/2.0" : "RTSP/1.0";
}

void Message::reset(uint64_t stream_offset) noexcept {
  // clear() keeps the capacity, so a steady stream of messages reuses it.
  raw_.clear();
  headers_.clear();
  type_ = MessageType::Request;
  version_ = Version::Rtsp10;
  status_code_ = 0;
  method_ = url_ = reason_ = start_line_ = Span{};
  start_line_end_ = 0;
  stream_offset_ = stream_offset;
  content_length_ = 0;
}

HeaderField Message::header(size_t i) const noexcept {
  if (i >= headers_.size()) {
    return HeaderField{};
  }
  return HeaderField{slice(headers_[i].name), slice(headers_[i].value)};
}

std::optional<std::string_view> Message::find(std::string_view name) const noexcept {
  for (const HeaderLine& h : headers_) {
    if (equalsIgnoreCase(slice(h.name), name)) {
      return slice(h.value);
    }
  }
  return std::nullopt;
}

size_t Message::count(std::string_view name) const noexcept {
  size_t n = 0;
  for (const HeaderLine& h : headers_) {
    n += equalsIgnoreCase(slice(h.name), name) ? 1 : 0;
  }
  return n;
}

bool Message::cseq(uint32_t& out) const noexcept {
  const std::optional<std::string_view> value = find("CSeq");
  return value && parseCSeq(*value, out);
}

bool Message::session(SessionHeader& out) const noexcept {
  const std::optional<std::string_view> value = find("Session");
  return value && parseSession(*value, out);
}

namespace {

bool validEdit(const HeaderEdit& edit) noexcept {
  if (edit.name.empty()) {
    return false;
  }
  for (char c : edit.name) {
    if (!isTokenChar(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  if (edit.action == HeaderEdit::Action::Remove) {
    return true;
  }
  for (char c : edit.value) {
    if (isForbiddenControl(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return trimWhitespace(edit.value).size() == edit.value.size();
}

// The line ending of a line that ends at `line_end` (one past its LF).
std::string_view lineEndingOf(std::string_view raw, size_t line_end) noexcept {
  return line_end >= 2 && raw[line_end - 2] == '\r' ? std::string_view("\r\n") : std::string_view("\n");
}

}  // namespace

bool Message::rewrite(const HeaderEdit* edits, size_t edit_count, std::string& out) const {
  out.clear();
  const std::string_view raw = head();
  if (raw.empty()) {
    return false;
  }
  size_t grow = 0;
  for (size_t e = 0; e < edit_count; ++e) {
    if (!validEdit(edits[e])) {
      return false;
    }
    grow += edits[e].name.size() + edits[e].value.size() + 4;
  }
  out.reserve(raw.size() + grow);
  out.append(raw.substr(0, start_line_end_));

  // Added headers take the ending of the line before them, so a head that
  // uses bare LF throughout (a few peers do) stays consistent.
  std::string_view line_ending = lineEndingOf(raw, start_line_end_);
  size_t headers_end = start_line_end_;
  for (size_t i = 0; i < headers_.size(); ++i) {
    const HeaderLine& h = headers_[i];
    headers_end = h.line_end;
    line_ending = lineEndingOf(raw, h.line_end);
    const std::string_view name = slice(h.name);
    // A name listed twice in `edits`: the first listing acts.
    const HeaderEdit* edit = nullptr;
    for (size_t e = 0; e < edit_count && edit == nullptr; ++e) {
      if (equalsIgnoreCase(edits[e].name, name)) {
        edit = &edits[e];
      }
    }
    if (edit == nullptr) {
      out.append(raw.substr(h.name.begin, h.line_end - h.name.begin));
      continue;
    }
    if (edit->action == HeaderEdit::Action::Remove) {
      continue;
    }
    // Heads carry at most a few dozen headers and rewrites happen once per
    // SETUP, so a quadratic look back is cheaper than bookkeeping.
    bool repeat = false;
    for (size_t j = 0; j < i && !repeat; ++j) {
      repeat = equalsIgnoreCase(slice(headers_[j].name), name);
    }
    if (repeat) {
      continue;
    }
    const size_t value_end = h.value.begin + h.value.length;
    out.append(raw.substr(h.name.begin, h.value.begin - h.name.begin));
    out.append(edit->value);
    out.append(raw.substr(value_end, h.line_end - value_end));
  }

  for (size_t e = 0; e < edit_count; ++e) {
    const HeaderEdit& edit = edits[e];
    bool handled = edit.action != HeaderEdit::Action::Set || count(edit.name) > 0;
    for (size_t earlier = 0; earlier < e && !handled; ++earlier) {
      handled = equalsIgnoreCase(edits[earlier].name, edit.name);
    }
    if (handled) {
      continue;
    }
    out.append(edit.name);
    out.append(": ");
    out.append(edit.value);
    out.append(line_ending);
  }
  out.append(raw.substr(headers_end));
  return true;
}

}  // namespace rtsp
}  // namespace mediamesh
