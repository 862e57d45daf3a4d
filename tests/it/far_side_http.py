"""A far side for push mirror tests: git http-backend behind HTTP basic auth.

    far_side_http.py ROOT PORT USER PASSWORD [ADDRESS]

ADDRESS is where it listens, 127.0.0.1 unless given.

A wrong password is answered after two seconds, so a test can look at the running git client."""
import base64
import http.server
import os
import subprocess
import sys
import time

root, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.backend()

    def do_POST(self):
        self.backend()

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def backend(self):
        body = self.body()
        given = self.headers.get("Authorization", "")
        if given != expected:
            if given:
                time.sleep(2)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="far"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": user,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        crlf, lf = out.find(b"\r\n\r\n"), out.find(b"\n\n")
        if crlf >= 0 and (lf < 0 or crlf < lf):
            head, rest = out[:crlf], out[crlf + 4:]
        elif lf >= 0:
            head, rest = out[:lf], out[lf + 2:]
        else:
            head, rest = out, b""
        status, headers = 200, []
        for line in head.replace(b"\r\n", b"\n").split(b"\n"):
            name, _, value = line.decode().partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)


bind = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
http.server.ThreadingHTTPServer((bind, port), Handler).serve_forever()
