#include <catch2/catch.hpp>
#include <vector>

#include "bank/framing.hpp"

using bank::FrameDecoder;

namespace {
std::vector<std::string> drain(FrameDecoder& decoder) {
  std::vector<std::string> frames;
  for (;;) {
    auto next = decoder.next();
    if (next.status != FrameDecoder::Status::frame) break;
    frames.emplace_back(next.frame);
  }
  return frames;
}
}  // namespace

TEST_CASE("many frames in one read come out in order") {
  FrameDecoder decoder;
  decoder.feed(std::string("HEALTH") + '\0' + "CREATE_TRANSACTION" + '\0' + "12.50" + '\0');
  CHECK(drain(decoder) == std::vector<std::string>{"HEALTH", "CREATE_TRANSACTION", "12.50"});
  CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("frames split into one-byte reads reassemble exactly") {
  const std::string stream =
      std::string("GET_TRANSACTION") + '\0' + "42" + '\0' + '\0' + "LIST_TRANSACTIONS" + '\0';
  FrameDecoder decoder;
  std::vector<std::string> frames;
  for (char byte : stream) {
    decoder.feed(std::string_view(&byte, 1));
    for (auto& frame : drain(decoder)) frames.push_back(frame);
  }
  CHECK(frames == std::vector<std::string>{"GET_TRANSACTION", "42", "", "LIST_TRANSACTIONS"});
}

TEST_CASE("every split point of a stream gives the same frames") {
  const std::string stream =
      std::string("HEALTH") + '\0' + "VOID_TRANSACTION" + '\0' + "7 key=k" + '\0' + "tail";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    decoder.feed(std::string_view(stream).substr(0, cut));
    auto frames = drain(decoder);
    decoder.feed(std::string_view(stream).substr(cut));
    for (auto& frame : drain(decoder)) frames.push_back(frame);
    INFO("cut at " << cut);
    CHECK(frames == std::vector<std::string>{"HEALTH", "VOID_TRANSACTION", "7 key=k"});
    CHECK(decoder.buffered_bytes() == 4);  // "tail" waits for its NUL.
  }
}

TEST_CASE("a frame over the limit is reported, with or without its NUL") {
  FrameDecoder decoder(8);
  decoder.feed("123456789");
  CHECK(decoder.next().status == FrameDecoder::Status::too_large);
  FrameDecoder terminated(8);
  terminated.feed(std::string_view("123456789\0", 10));
  CHECK(terminated.next().status == FrameDecoder::Status::too_large);
  FrameDecoder exact(8);
  exact.feed(std::string_view("12345678\0", 9));
  auto next = exact.next();
  CHECK(next.status == FrameDecoder::Status::frame);
  CHECK(next.frame == "12345678");
}

TEST_CASE("whitespace around a frame is ignored") {
  CHECK(bank::trim_ascii_whitespace(" \tHEALTH\r\n") == "HEALTH");
  CHECK(bank::trim_ascii_whitespace("\n\n") == "");
}
