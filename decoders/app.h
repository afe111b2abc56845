/* decoders/app.h - recognise an application protocol from the first bytes
 * of a flow's payload, whatever the port: SSH banners, RDP connection
 * requests, TLS handshakes, HTTP requests, Stratum/XMRig JSON-RPC. Pure: no
 * state, reads at most 'len' bytes. */
#ifndef MG_APP_H
#define MG_APP_H

#include <stddef.h>
#include <stdint.h>

/* enum app_hint (rec.h) for the payload, APP_NONE when nothing matches. */
uint8_t app_classify(const uint8_t *p, size_t len);

const char *app_name(uint8_t app);

#endif /* MG_APP_H */
