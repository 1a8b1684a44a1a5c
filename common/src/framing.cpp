#include "bank/framing.hpp"

#include <cstring>

#include "bank/assert.hpp"

namespace bank {

void append_frame(std::string& out, std::string_view payload) {
  out.append(payload);
  out.append(frame_terminator);
}

std::string_view trim_ascii_whitespace(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

void FrameDecoder::feed(std::string_view bytes) {
  // Compact when the consumed prefix dominates, so the buffer stays bounded by
  // what is unconsumed plus one feed.
  if (read_at_ == buffer_.size()) {
    buffer_.clear();
    read_at_ = 0;
    scanned_to_ = 0;
  } else if (read_at_ > 0 && read_at_ * 2 >= buffer_.size()) {
    buffer_.erase(0, read_at_);
    scanned_to_ -= read_at_;
    read_at_ = 0;
  }
  buffer_.append(bytes);
}

FrameDecoder::Next FrameDecoder::next() {
  BANK_ASSERT(read_at_ <= scanned_to_);
  BANK_ASSERT(scanned_to_ <= buffer_.size());
  const char* begin = buffer_.data() + scanned_to_;
  const auto* nul = static_cast<const char*>(std::memchr(begin, '\0', buffer_.size() - scanned_to_));
  if (nul == nullptr) {
    scanned_to_ = buffer_.size();
    if (buffered_bytes() > frame_bytes_max_) return {Status::too_large, {}};
    return {Status::need_more, {}};
  }
  const std::size_t end = static_cast<std::size_t>(nul - buffer_.data());
  if (end - read_at_ > frame_bytes_max_) return {Status::too_large, {}};
  const std::string_view frame(buffer_.data() + read_at_, end - read_at_);
  // The consumed bytes are reclaimed by the next feed(), not here: the frame
  // view points into them.
  read_at_ = end + 1;
  scanned_to_ = read_at_;
  return {Status::frame, frame};
}

}  // namespace bank
