import Foundation
import HTTPTypes
import Hummingbird
import JobAPI
import JobModel

/// The frame every page shares: head (the embedded style sheet and script, nothing else), the
/// navigation, who is signed in, and the page's `<main>`, which the script refreshes in place
/// when events say something changed.
struct PageLayout {
    enum Section: String, CaseIterable {
        case overview = "Overview"
        case queues = "Queues"
        case jobs = "Jobs"
        case consumers = "Consumers"

        var path: String {
            switch self {
            case .overview: "/"
            case .queues: "/queues"
            case .jobs: "/jobs"
            case .consumers: "/consumers"
            }
        }
    }

    var title: String
    var section: Section?
    var user: PeerCredentials?
    /// Whether the page asks the script to refresh it on job events.
    var live = true

    func render(_ main: HTML) -> HTML {
        let links = Section.allCases.map { item -> HTML in
            item == section
                ? "<a href=\"\(item.path)\" aria-current=\"page\">\(item.rawValue)</a>"
                : "<a href=\"\(item.path)\">\(item.rawValue)</a>"
        }
        let account: HTML = user.map { user in
            """
            <span class="who">uid \(user.uid)</span>
            <form method="post" action="/sign-out"><button type="submit" class="quiet">Sign out</button></form>
            """
        } ?? ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="color-scheme" content="light dark">
            <title>\(title) · jobq</title>
            <link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/assets/dashboard.css?v=\(DashboardAssets.version)">
            <script src="/assets/dashboard.js?v=\(DashboardAssets.version)" defer></script>
            </head>
            <body>
            <header class="top">
            <a class="brand" href="/">jobq</a>
            <nav aria-label="Sections">\(links)</nav>
            <div class="account">\(account)</div>
            </header>
            <main id="main"\(live ? " data-live" : "")>
            \(main)
            </main>
            </body>
            </html>
            """
    }

    /// A whole page as a response.
    func response(_ main: HTML, status: HTTPResponse.Status = .ok) -> Response {
        htmlResponse(render(main), status: status)
    }
}

/// HTML with its type, UTF-8.
func htmlResponse(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/html; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html.text)))
}

/// A refusal or failure shown to a person: a page for the dashboard's pages, the API's JSON shape
/// for `/api/`. `code` is stable, as the API's codes are.
struct WebError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if request.uri.path.hasPrefix("/api/") {
            let body = try JSONEncoder().encode(ErrorResponse(code: code, message: message))
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        let user = (context as? WebContext)?.user
        let signIn: HTML = code == "not_signed_in" || code == "link_used"
            ? "<p>Run <code>jobq dashboard</code> on the machine for a new sign-in link.</p>" : ""
        let page = PageLayout(title: status.reasonPhrase, section: nil, user: user, live: false)
        return page.response(
            """
            <h1>\(status.reasonPhrase)</h1>
            <p class="problem" data-code="\(code)">\(message)</p>
            \(signIn)
            <p><a href="/">Overview</a></p>
            """, status: status)
    }
}
