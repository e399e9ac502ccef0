import Hummingbird
import JobModel

/// The socket's dashboard routes: a sign-in link for the caller, and the end of sessions. They
/// are answered on the Unix socket only (the dashboard does not pass them on), so that the
/// kernel's word on the caller is what a link is bound to.
enum DashboardRoutes {
    static func add(to router: Router<APIContext>, _ environment: JobAPI.Environment) {
        router.post("v1/dashboard/links") { request, context -> DashboardLink in
            let sign = try signIn(environment)
            guard let peer = environment.peers.resolve(context, request) else {
                throw APIError(.forbidden, code: "forbidden", message: "a sign-in link is for a known user: the caller's identity is unknown")
            }
            do {
                return try sign.link(for: peer)
            } catch let error as DashboardSignInError {
                switch error {
                case .tooManyLinks(let count):
                    throw APIError(.tooManyRequests, code: "too_many_links",
                                   message: "\(count) sign-in links wait to be followed; unused ones expire within a minute: try again then")
                case .notListening:
                    throw APIError(.serviceUnavailable, code: "dashboard_starting", message: "the dashboard is not listening yet; try again in a moment")
                }
            }
        }
        router.post("v1/dashboard/sign-out-all") { request, context -> DashboardSignOut in
            let sign = try signIn(environment)
            guard let uid = environment.peers.resolve(context, request)?.uid else {
                throw APIError(.forbidden, code: "forbidden", message: "signing out is for a known user: the caller's identity is unknown")
            }
            // An administrator ends every session; anyone else their own.
            return DashboardSignOut(ended: sign.signOut(uid: JobRoutes.isAdministrator(uid, environment) ? nil : uid))
        }
    }

    private static func signIn(_ environment: JobAPI.Environment) throws -> any DashboardSignIn {
        guard let sign = environment.dashboard else {
            throw APIError(.conflict, code: "dashboard_off",
                           message: "the web dashboard is off: start jobqd with --web 127.0.0.1:8377 (or web = … in its config file)")
        }
        return sign
    }
}

extension DashboardLink: ResponseEncodable {}
extension DashboardSignOut: ResponseEncodable {}
