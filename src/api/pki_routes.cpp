// placeholder until the certificate authority lands
#include "api/api.h"
namespace onewindow::api {
void add_pki_routes(Router&, pki::CertificateAuthority&) {}
}  // namespace onewindow::api
