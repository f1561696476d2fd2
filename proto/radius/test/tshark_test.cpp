// placeholder, filled below
#include <gtest/gtest.h>
TEST(Tshark, Placeholder) {}
