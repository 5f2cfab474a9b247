module tether.dev/bench/gorun

go 1.22

require tether.dev/tether v0.0.0

replace tether.dev/tether => ../../bindings/go
