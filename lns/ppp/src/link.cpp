namespace dl::ppp::engine {}
