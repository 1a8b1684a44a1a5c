#pragma once
// NUL framing (PROTOCOL.md, Framing), sans-IO: feed bytes in any chunks, take
// complete frames out. A frame longer than frame_bytes_max is an error that the
// caller answers and then closes the connection.

#include <cstddef>
#include <string>
#include <string_view>

namespace bank {

inline constexpr std::size_t frame_bytes_max_default = 64 * 1024;

// The NUL that ends every frame.
inline constexpr std::string_view frame_terminator{"\0", 1};

// Appends bytes and a NUL terminator.
void append_frame(std::string& out, std::string_view payload);

// Removes leading and trailing ASCII whitespace (space, \t, \r, \n).
std::string_view trim_ascii_whitespace(std::string_view text);

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t frame_bytes_max = frame_bytes_max_default)
      : frame_bytes_max_(frame_bytes_max) {}

  void feed(std::string_view bytes);

  enum class Status { frame, need_more, too_large };
  struct Next {
    Status status;
    std::string_view frame;  // Valid until the next feed() or next().
  };
  Next next();

  // Forgets every byte held (a new connection), keeping the buffer's capacity.
  void clear() {
    buffer_.clear();
    read_at_ = 0;
    scanned_to_ = 0;
  }

  // Bytes held that are not yet handed out as frames.
  std::size_t buffered_bytes() const { return buffer_.size() - read_at_; }

 private:
  std::size_t frame_bytes_max_;
  std::string buffer_;
  std::size_t read_at_ = 0;
  std::size_t scanned_to_ = 0;  // No NUL in [read_at_, scanned_to_).
};

}  // namespace bank
