#pragma once

namespace leaf::templates {
extern const char* const kLeafnode;  // templates/leafnode.conf.tmpl: leaf with TLS upstream
extern const char* const kDev;       // templates/dev.conf.tmpl: plain loopback server, no upstream
extern const char* const kHub;       // templates/hub.conf.tmpl: the dev-hub (operator mode, TLS)
}  // namespace leaf::templates
