#include "api/callers.h"

namespace onewindow::api {

Result<workflow::Actor> actor_of(identity::Directory& directory, std::string_view account_id,
                                 std::string_view department_id, bool machine_client) {
  workflow::Actor actor;
  actor.account_id = std::string(account_id);
  std::string department = std::string(department_id);
  if (!machine_client) {
    auto account = directory.account(account_id);
    if (!account.ok()) return account.take_error();
    actor.roles = account->roles;
    actor.roles.emplace_back(identity::kind_name(account->kind));
    department = account->department_id;
  }
  if (!department.empty()) {
    auto found = directory.department(department);
    if (!found.ok()) return found.take_error();
    actor.department_key = found->key;
  }
  return actor;
}

Result<workflow::Actor> caller(const Request& request, identity::Directory& directory) {
  const identity::Principal& principal = *request.principal;
  return actor_of(directory, principal.account_id, principal.department_id, principal.machine_client);
}

}  // namespace onewindow::api
