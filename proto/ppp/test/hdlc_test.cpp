// RFC 1662 §4 async framing / deframing and §5 synchronous framing.
#include "dl/ppp/hdlc.hpp"

#include <gtest/gtest.h>

#include <random>

#include "dl/ppp/fcs.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"

namespace dl::ppp {
namespace {

using dl::testing::Bytes;
using dl::testing::cat;
using dl::testing::hex;

const Bytes kLcpCfgReq = hex("c0 21 01 01 00 04");     // LCP Configure-Request, id 1, no options
const Bytes kIpFrame = hex("21 45 00 7e 7d 11 13");    // PFC'd IPv4 with flag/escape/XON/XOFF

// req: PPP.hdlc
TEST(AsyncEncode, DefaultAccmEscapesAllControlOctets) {
    // RFC 1662 §4.2 / §7.1: ACCM 0xffffffff escapes 0x00-0x1f; Address/Control present.
    EXPECT_EQ(encode_async(kLcpCfgReq, AsyncOptions{}),
              hex("7e ff 7d 23 c0 21 7d 21 7d 21 7d 20 7d 24 d1 b5 7e"));
}

// req: PPP.hdlc
TEST(AsyncEncode, AccmZeroStillEscapesFlagAndEscape) {
    AsyncOptions o;
    o.accm = 0;
    o.acfc = true;
    EXPECT_EQ(encode_async(kIpFrame, o), hex("7e 21 45 00 7d 5e 7d 5d 11 13 83 43 7e"));
}

// req: PPP.hdlc
TEST(AsyncEncode, SelectiveAccmAndFcs32) {
    AsyncOptions o;
    o.accm = 0x000a0000;  // escape 0x11 (XON) and 0x13 (XOFF) only
    o.fcs32 = true;
    EXPECT_EQ(encode_async(kIpFrame, o),
              hex("7e ff 03 21 45 00 7d 5e 7d 5d 7d 31 7d 33 93 f8 38 17 7e"));
}

// req: PPP.hdlc
TEST(AsyncEncode, LcpConfigurePacketsAlwaysUseDefaults) {
    // RFC 1661 §5: LCP codes 1-7 are sent as if no option had been negotiated.
    AsyncOptions o{0, true, true, true};
    EXPECT_EQ(encode_async(kLcpCfgReq, o), encode_async(kLcpCfgReq, AsyncOptions{}));
    o.lcp_defaults = false;
    EXPECT_NE(encode_async(kLcpCfgReq, o), encode_async(kLcpCfgReq, AsyncOptions{}));
    // Echo-Request (code 9) follows the negotiated options.
    const Bytes echo = hex("c0 21 09 01 00 08 00 00 00 00");
    o.lcp_defaults = true;
    EXPECT_EQ(encode_async(echo, o)[1], 0xc0);  // ACFC applied
}

// req: PPP.hdlc
TEST(AsyncEncode, AppendsIntoCallerBuffer) {
    std::vector<std::uint8_t> out{0xaa};
    const std::size_t n = encode_async(kLcpCfgReq, AsyncOptions{}, out);
    EXPECT_EQ(n, 17u);
    EXPECT_EQ(out.size(), 18u);
    EXPECT_EQ(out[0], 0xaa);
    EXPECT_EQ(out[1], 0x7e);
}

std::vector<Bytes> deframe_all(AsyncDeframer& d, const Bytes& stream, std::mt19937* rng) {
    std::vector<Bytes> frames;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        std::size_t n = rng ? 1 + (*rng)() % 40 : 1;
        n = std::min(n, stream.size() - pos);
        auto chunk = d.feed(std::span<const std::uint8_t>(stream).subspan(pos, n));
        frames.insert(frames.end(), chunk.begin(), chunk.end());
        pos += n;
    }
    return frames;
}

Bytes make_stream(const std::vector<Bytes>& frames, const AsyncOptions& o) {
    Bytes s;
    for (const auto& f : frames) encode_async(f, o, s);
    return s;
}

// req: PPP.hdlc
TEST(AsyncDeframer, ByteByByteAndRandomChunks) {
    std::mt19937 rng(1661);
    std::vector<Bytes> frames;
    for (int i = 0; i < 50; ++i) {
        Bytes f{0x00, 0x21};
        const std::size_t n = rng() % 1500;
        for (std::size_t k = 0; k < n; ++k) f.push_back(static_cast<std::uint8_t>(rng()));
        frames.push_back(f);
    }
    for (std::uint32_t accm : {0xffffffffu, 0u}) {
        for (bool use32 : {false, true}) {
            AsyncOptions o;
            o.accm = accm;
            o.fcs32 = use32;
            o.acfc = accm == 0;
            const Bytes stream = make_stream(frames, o);
            DeframerOptions dopts;
            dopts.fcs32 = use32;
            dopts.accm = accm;
            AsyncDeframer d1(dopts), d2(dopts);
            EXPECT_EQ(deframe_all(d1, stream, nullptr), frames);
            EXPECT_EQ(deframe_all(d2, stream, &rng), frames);
            EXPECT_EQ(d1.stats().frames, frames.size());
            EXPECT_EQ(d1.stats().bad_fcs + d1.stats().too_short + d1.stats().too_long, 0u);
        }
    }
}

// req: PPP.hdlc
TEST(AsyncDeframer, SeveralFramesInOneChunkWithNextApi) {
    const Bytes stream = make_stream({kLcpCfgReq, kIpFrame, kLcpCfgReq}, AsyncOptions{});
    AsyncDeframer d;
    std::span<const std::uint8_t> in(stream);
    auto f1 = d.next(in);
    ASSERT_TRUE(f1);
    EXPECT_EQ(Bytes(f1->begin(), f1->end()), kLcpCfgReq);
    auto f2 = d.next(in);
    ASSERT_TRUE(f2);
    EXPECT_EQ(Bytes(f2->begin(), f2->end()), kIpFrame);
    auto f3 = d.next(in);
    ASSERT_TRUE(f3);
    EXPECT_FALSE(d.next(in));
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(d.stats().frames, 3u);
}

// req: PPP.hdlc
TEST(AsyncDeframer, GarbageAbortBadFcsShortAndHunt) {
    Bytes s = hex("41 42 43");                      // before first flag: hunted over
    s = cat(s, encode_async(kLcpCfgReq));     // good
    s = cat(s, hex("7e 7e 7e"));              // empty frames: silently ignored
    s = cat(s, hex("41 42 7e"));              // 2 octets: too short
    s = cat(s, hex("ff 03 c0 21 7d 7e"));     // aborted by 7d 7e
    Bytes bad = encode_async(kIpFrame);
    bad[4] ^= 0x01;                                 // corrupt: bad FCS
    s = cat(s, bad);
    s = cat(s, encode_async(kIpFrame));       // good
    AsyncDeframer d;
    auto frames = d.feed(s);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], kLcpCfgReq);
    EXPECT_EQ(frames[1], kIpFrame);
    EXPECT_EQ(d.stats().hunt_octets, 3u);
    EXPECT_EQ(d.stats().too_short, 1u);
    EXPECT_EQ(d.stats().aborted, 1u);
    EXPECT_EQ(d.stats().bad_fcs, 1u);
    EXPECT_EQ(d.stats().frames, 2u);
}

// req: PPP.hdlc
TEST(AsyncDeframer, TooLongFramesAreCountedAndMemoryBounded) {
    DeframerOptions o;
    o.mru = 100;
    AsyncDeframer d(o);
    Bytes big{0x00, 0x21};
    big.resize(2 + 101, 0x55);
    Bytes ok{0x00, 0x21};
    ok.resize(2 + 100, 0x55);
    auto frames = d.feed(cat(encode_async(big), encode_async(ok)));
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], ok);
    EXPECT_EQ(d.stats().too_long, 1u);
    // Megabytes without a flag never grow the buffer beyond the MRU bound.
    Bytes flood(1 << 20, 0x55);
    flood.insert(flood.begin(), 0x7e);
    flood.push_back(0x7e);
    EXPECT_TRUE(d.feed(flood).empty());
    EXPECT_EQ(d.stats().too_long, 2u);
}

// req: PPP.hdlc
TEST(AsyncDeframer, ReceiveAccmRemovesInsertedControlOctets) {
    // RFC 1662 §4.2: a raw 0x11 (XON) inserted by a modem is dropped before the FCS check.
    Bytes s = encode_async(kLcpCfgReq);
    s.insert(s.begin() + 5, 0x11);
    AsyncDeframer d;
    auto frames = d.feed(s);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], kLcpCfgReq);
    // With a receive ACCM of 0 the octet is data, so the FCS fails.
    DeframerOptions o;
    o.accm = 0;
    AsyncDeframer d0(o);
    EXPECT_TRUE(d0.feed(s).empty());
    EXPECT_EQ(d0.stats().bad_fcs, 1u);
}

// req: PPP.hdlc
TEST(AsyncDeframer, BadControlFieldAndReset) {
    // Address 0xff with Control 0x13: silently discarded (RFC 1662 §3.1).
    Bytes raw = hex("ff 13 c0 21 01 01 00 04");
    const auto f = static_cast<std::uint16_t>(~fcs16(kFcs16Init, raw));
    raw.push_back(static_cast<std::uint8_t>(f & 0xff));
    raw.push_back(static_cast<std::uint8_t>(f >> 8));
    Bytes s{0x7e};
    s = cat(s, raw);
    s.push_back(0x7e);
    AsyncDeframer d(DeframerOptions{0, false, 1500});
    EXPECT_TRUE(d.feed(s).empty());
    EXPECT_EQ(d.stats().bad_address, 1u);
    // reset() drops a partial frame and hunts again.
    const Bytes good = encode_async(kLcpCfgReq);
    d.feed(std::span<const std::uint8_t>(good).first(6));
    d.reset();
    EXPECT_TRUE(d.feed(std::span<const std::uint8_t>(good).subspan(6)).empty());
    EXPECT_EQ(d.feed(good).size(), 1u);
}

// req: PPP.hdlc
TEST(SyncFraming, GoldenAndRoundTrip) {
    EXPECT_EQ(encode_sync(kLcpCfgReq), hex("ff 03 c0 21 01 01 00 04 d1 b5"));
    SyncOptions o;
    o.acfc = true;
    o.fcs32 = true;
    const Bytes s = encode_sync(kIpFrame, o);
    EXPECT_EQ(s, hex("21 45 00 7e 7d 11 13 eb 38 9d ab"));
    auto v = decode_sync(s, true);
    EXPECT_EQ(Bytes(v.begin(), v.end()), kIpFrame);
    const Bytes lw = hex("ff 03 c0 21 01 01 00 04 d1 b5");
    auto l = decode_sync(lw);
    EXPECT_EQ(Bytes(l.begin(), l.end()), kLcpCfgReq);
    // LCP Configure-* keep Address/Control and FCS-16 even with ACFC/FCS-32 (RFC 1661 §5).
    EXPECT_EQ(encode_sync(kLcpCfgReq, o), hex("ff 03 c0 21 01 01 00 04 d1 b5"));
}

// req: PPP.hdlc
TEST(SyncFraming, MalformedIsParseError) {
    using dl::proto::ParseError;
    EXPECT_THROW(decode_sync(hex("ff 03 c0")), ParseError);                    // too short
    EXPECT_THROW(decode_sync(hex("ff 03 c0 21 01 01 00 04 d1 b4")), ParseError);  // bad FCS
    EXPECT_THROW(decode_sync(hex("ff 03 c0 21 01 01 00 04 d1 b5"), true), ParseError);
    Bytes bc = hex("ff 13 c0 21");
    const auto f = static_cast<std::uint16_t>(~fcs16(kFcs16Init, bc));
    bc.push_back(static_cast<std::uint8_t>(f & 0xff));
    bc.push_back(static_cast<std::uint8_t>(f >> 8));
    try {
        decode_sync(bc);
        FAIL() << "no throw";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "control");
        EXPECT_EQ(e.source(), "RFC 1662 §3.1");
        EXPECT_EQ(e.protocol(), dl::proto::Protocol::hdlc);
    }
    Bytes ac = hex("ff 03");  // Address/Control then nothing
    const auto g = static_cast<std::uint16_t>(~fcs16(kFcs16Init, ac));
    ac.push_back(static_cast<std::uint8_t>(g & 0xff));
    ac.push_back(static_cast<std::uint8_t>(g >> 8));
    EXPECT_THROW(decode_sync(ac), ParseError);
}

}  // namespace
}  // namespace dl::ppp
