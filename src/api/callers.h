// Private to api/: who the caller of a route is to the modules that act for them.
#pragma once

#include "api/api.h"

#include "workflow/workflow.h"

namespace onewindow::api {

// Who an account is to the engine and the services: its id, its department's key and its roles
// (the base role of its kind among them). A department's own system acts with its department
// and no role.
Result<workflow::Actor> actor_of(identity::Directory& directory, std::string_view account_id,
                                 std::string_view department_id, bool machine_client);

// actor_of() for the caller of a request.
Result<workflow::Actor> caller(const Request& request, identity::Directory& directory);

}  // namespace onewindow::api
