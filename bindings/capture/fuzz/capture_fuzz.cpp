// libFuzzer harness: the capture reader behind dlab._native.read_capture (`./lab replay` reads users'
// files through it). The input is the whole file: classic pcap (libpcap's reader) or pcapng (the
// block walker, IETF draft-ietf-opsawg-pcapng §4), chosen by its magic number as for a user's file;
// every frame then goes through the UDP classifier. The only failure allowed is a CaptureError;
// every frame read lies inside the file, and an Interface Description precedes every pcapng packet.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "dl/capture/capture_file.hpp"

using namespace dl::capture;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The reader takes a path (libpcap opens it itself): an in-memory file, rewritten per input.
    static const int fd = memfd_create("capture-fuzz", MFD_CLOEXEC);
    static const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (fd < 0 || ftruncate(fd, 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
        const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) std::abort();
        done += static_cast<std::size_t>(n);
    }
    try {
        CaptureFile file(path);
        Classifier cls;
        cls.radius_ports = {1812, 1813};
        std::vector<std::uint32_t> interfaces;
        std::size_t frames = 0;
        file.read(
            [&](const RawFrame& f) {
                ++frames;
                if (f.data.size() > size || f.offset >= size) std::abort();
                if (file.format() == "pcapng" && f.interface >= interfaces.size()) std::abort();
                if (!supported(f.link_type)) std::abort();  // refused with a CaptureError instead
                (void)link_type_name(f.link_type);
                if (f.data.size() >= 4) {  // the ports and addresses of a datagram, from the frame
                    const std::uint32_t a = f.data[0], b = f.data[1], c = f.data[2], d = f.data[3];
                    (void)cls.classify(a << 24 | b << 16, static_cast<std::uint16_t>(a << 8 | b), c << 24 | d,
                                       static_cast<std::uint16_t>(c << 8 | d), f.data);
                }
            },
            interfaces);
        for (auto lt : interfaces) (void)link_type_name(lt);
    } catch (const CaptureError& e) {
        if (e.reason.empty()) std::abort();  // every refusal says why
    }
    return 0;
}
