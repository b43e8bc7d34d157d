// Who may do what on the control plane's API. Two roles mean something here: `admin` may do
// everything; `node` (a sidecar's credential) may read and watch, introspect the tokens it is
// shown, and register, heartbeat and deregister the node named by its own subject. Any other
// credential is valid for the mesh (the sidecars accept it) but may do nothing here.

/** Paths a node credential may read: everything a sidecar needs to follow the cluster. */
const READABLE = ["/v1/config", "/v1/policies", "/v1/nodes", "/v1/keys", "/v1/watch", "/v1/cluster", "/v1/auth/keys"];

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Whether a principal with these roles and subject may make this request. */
export function isPermitted(principal: { subject: string; roles: readonly string[] }, method: string, path: string): boolean {
  if (principal.roles.includes("admin")) return true;
  if (!principal.roles.includes("node")) return false;
  // A backup holds every key, credentials' hashes included: as admin-only as membership changes.
  if (under(path, "/v1/cluster/snapshot")) return false;
  if ((method === "GET" || method === "HEAD") && READABLE.some((prefix) => under(path, prefix))) return true;
  if (method === "POST" && path === "/v1/auth/introspect") return true;
  const own = `/v1/nodes/${principal.subject}`;
  if ((method === "PUT" || method === "DELETE") && path === own) return true;
  return method === "POST" && path === `${own}/heartbeat`;
}
