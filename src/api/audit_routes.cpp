// placeholder until the transparency log lands
#include "api/api.h"
namespace onewindow::api {
void add_audit_routes(Router&, audit::TransparencyLog&) {}
}  // namespace onewindow::api
