// A block fixed by one compile-time Config cannot feed a block fixed by another with a different
// size (here an adaptor emitting 2048 into a decoder of hidden size 4096).
#include "dsvl/core/extent.hpp"

template <std::int64_t Out>
struct Producer {
  static constexpr std::int64_t out = Out;
};
template <std::int64_t In>
struct Consumer {
  template <class P>
  static void connect(const P&) {
    dsvl::require_same_extent<P::out, In>();
  }
};

int main() {
#ifdef DSVL_FAILTEST_OK
  Consumer<2048>::connect(Producer<2048>{});
  Consumer<dsvl::kDynamic>::connect(Producer<2048>{});
#else
  Consumer<4096>::connect(Producer<2048>{});
#endif
  return 0;
}
