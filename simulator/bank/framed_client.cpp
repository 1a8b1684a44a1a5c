#include "framed_client.hpp"

namespace bank_sim {

FramedClient::FramedClient(sim::SimNetwork& network, std::string node, std::uint16_t port,
                           std::size_t frame_bytes_max, Handlers handlers)
    : network_(network),
      node_(std::move(node)),
      port_(port),
      frame_bytes_max_(frame_bytes_max),
      handlers_(std::move(handlers)),
      decoder_(frame_bytes_max) {}

FramedClient::~FramedClient() {
  connection_.reset();
}

void FramedClient::connect(const std::string& host) {
  if (connecting_ || connection_) return;
  connecting_ = true;
  const std::uint64_t generation = ++generation_;
  network_.connect(node_, host, port_, [this, generation](auto result) {
    if (generation != generation_) return;  // Dropped meanwhile.
    connecting_ = false;
    if (!result) {
      if (handlers_.connect_failed) handlers_.connect_failed(result.error().message);
      return;
    }
    connection_ = std::move(*result);
    sending_shut_ = false;
    decoder_.clear();
    connection_->start(this);
    if (handlers_.connected) handlers_.connected();
  });
}

void FramedClient::drop() {
  connection_.reset();
  connecting_ = false;
  ++generation_;
}

void FramedClient::on_data(std::string_view bytes) {
  // While nothing is buffered, the frames that arrived whole are handed out
  // as views into `bytes`, uncopied (a long LIST reply is not copied once
  // more). What is left, a frame's beginning or one too long, goes through
  // the decoder, which then answers exactly as if it had been fed everything.
  while (decoder_.buffered_bytes() == 0) {
    const std::size_t end = bytes.find('\0');
    if (end == std::string_view::npos || end > frame_bytes_max_) break;
    const std::string_view frame = bytes.substr(0, end);
    bytes.remove_prefix(end + 1);
    if (!handlers_.frame(frame) || !connection_) return;
  }
  if (bytes.empty()) return;  // Every frame was whole and handed out.
  decoder_.feed(bytes);
  for (;;) {
    const auto next = decoder_.next();
    if (next.status == bank::FrameDecoder::Status::too_large && handlers_.too_large) handlers_.too_large();
    if (next.status != bank::FrameDecoder::Status::frame) return;
    if (!handlers_.frame(next.frame) || !connection_) return;
  }
}

void FramedClient::on_closed(bank::CloseReason reason) {
  closed_connection_ = std::move(connection_);
  connecting_ = false;
  ++generation_;
  if (handlers_.closed) handlers_.closed(reason);
  closed_connection_.reset();
}

}  // namespace bank_sim
