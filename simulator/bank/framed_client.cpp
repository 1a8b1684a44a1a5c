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
    decoder_ = bank::FrameDecoder(frame_bytes_max_);
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
  decoder_.feed(bytes);
  for (;;) {
    const auto next = decoder_.next();
    if (next.status == bank::FrameDecoder::Status::too_large && handlers_.too_large) handlers_.too_large();
    if (next.status != bank::FrameDecoder::Status::frame) return;
    if (!handlers_.frame(next.frame) || !connection_) return;
  }
}

void FramedClient::on_closed(bank::CloseReason reason) {
  connection_.reset();
  connecting_ = false;
  ++generation_;
  if (handlers_.closed) handlers_.closed(reason);
}

}  // namespace bank_sim
