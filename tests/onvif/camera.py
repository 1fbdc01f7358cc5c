#!/usr/bin/python3
"""A simulated ONVIF camera for tests: answers WS-Discovery probes and the
ONVIF device and media services, pointing at RTSP streams served by the
camera simulator. Standard library only.

Run it inside a network namespace the test creates (never on the machine's
own interfaces): it joins the WS-Discovery multicast group on --address.

  camera.py --address 10.77.0.2 --http-port 8080 \
      --main rtsp://10.77.0.2:8554/cam1 --sub rtsp://10.77.0.2:8554/cam2 \
      --user operator --password secret

Discovery and GetDeviceInformation need no login (make and model show in
the list before credentials are asked); profiles and stream URIs need a
WS-Security UsernameToken with the right digest, as on a real camera.
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import re
import socket
import struct
import sys
import threading
import uuid

MULTICAST = ("239.255.255.250", 3702)
MANUFACTURER = "Peregrine Test Cameras"
MODEL = "NetCam 4"
ENDPOINT = "urn:uuid:%s" % uuid.uuid4()


def log(msg):
    sys.stderr.write("onvif-camera: %s\n" % msg)
    sys.stderr.flush()


def tag(xml, name):
    m = re.search(r"<(?:[\w-]+:)?%s\b[^>]*>(.*?)</(?:[\w-]+:)?%s>" % (name, name), xml, re.S)
    return m.group(1).strip() if m else None


def envelope(body, header=""):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
        ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl"'
        ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
        ' xmlns:trt="http://www.onvif.org/ver10/media/wsdl"'
        ' xmlns:tt="http://www.onvif.org/ver10/schema">'
        "<SOAP-ENV:Header>%s</SOAP-ENV:Header><SOAP-ENV:Body>%s</SOAP-ENV:Body></SOAP-ENV:Envelope>" % (header, body)
    )


def discovery(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", MULTICAST[1]))
    membership = struct.pack("4s4s", socket.inet_aton(MULTICAST[0]), socket.inet_aton(args.address))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    scopes = " ".join(
        [
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/name/%s" % args.name.replace(" ", "%20"),
            "onvif://www.onvif.org/hardware/%s" % MODEL.replace(" ", "%20"),
        ]
    )
    xaddr = "http://%s:%d/onvif/device_service" % (args.address, args.http_port)
    while True:
        data, sender = sock.recvfrom(65536)
        text = data.decode("utf-8", "replace")
        if "Probe" not in text or "ProbeMatch" in text:
            continue
        types = tag(text, "Types")
        if types and "NetworkVideoTransmitter" not in types:
            continue
        message_id = tag(text, "MessageID") or ""
        header = (
            "<wsa:MessageID>urn:uuid:%s</wsa:MessageID><wsa:RelatesTo>%s</wsa:RelatesTo>"
            "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
            "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"
            % (uuid.uuid4(), message_id)
        )
        body = (
            "<wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>%s</wsa:Address>"
            "</wsa:EndpointReference><wsd:Types>dn:NetworkVideoTransmitter tds:Device</wsd:Types>"
            "<wsd:Scopes>%s</wsd:Scopes><wsd:XAddrs>%s</wsd:XAddrs><wsd:MetadataVersion>1</wsd:MetadataVersion>"
            "</wsd:ProbeMatch></wsd:ProbeMatches>" % (ENDPOINT, scopes, xaddr)
        )
        sock.sendto(envelope(body, header).encode(), sender)
        log("answered a probe from %s:%d" % sender)


def token_is_good(xml, args):
    user, password = tag(xml, "Username"), tag(xml, "Password")
    nonce, created = tag(xml, "Nonce"), tag(xml, "Created")
    if not (user and password and nonce and created):
        return False
    try:
        raw_nonce = base64.b64decode(nonce)
        when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return False
    age = abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds())
    digest = base64.b64encode(hashlib.sha1(raw_nonce + created.encode() + args.password.encode()).digest()).decode()
    return user == args.user and password == digest and age < 300


def profile(token, name, width, height, fps):
    return (
        '<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>'
        '<tt:VideoEncoderConfiguration token="enc-%s"><tt:Name>Encoder</tt:Name><tt:Encoding>H264</tt:Encoding>'
        "<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>"
        "<tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit></tt:RateControl>"
        "</tt:VideoEncoderConfiguration></trt:Profiles>" % (token, name, token, width, height, fps)
    )


def handler_for(args):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            log("http: " + fmt % a)

        def reply(self, status, body):
            data = envelope(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fault(self, subcode):
            self.reply(
                400,
                "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>"
                "<SOAP-ENV:Subcode><SOAP-ENV:Value>%s</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>"
                "<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">%s</SOAP-ENV:Text></SOAP-ENV:Reason>"
                "</SOAP-ENV:Fault>" % (subcode, subcode),
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            xml = self.rfile.read(length).decode("utf-8", "replace")
            body = tag(xml, "Body") or ""
            m = re.match(r"\s*<(?:[\w-]+:)?(\w+)", body)
            op = m.group(1) if m else ""
            now = datetime.datetime.now(datetime.timezone.utc)
            if op == "GetSystemDateAndTime":
                return self.reply(
                    200,
                    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
                    "<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>"
                    "<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime>"
                    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
                    % (now.hour, now.minute, now.second, now.year, now.month, now.day),
                )
            if op == "GetDeviceInformation":
                return self.reply(
                    200,
                    "<tds:GetDeviceInformationResponse><tds:Manufacturer>%s</tds:Manufacturer><tds:Model>%s</tds:Model>"
                    "<tds:FirmwareVersion>4.0.1</tds:FirmwareVersion><tds:SerialNumber>NC-0042</tds:SerialNumber>"
                    "<tds:HardwareID>4</tds:HardwareID></tds:GetDeviceInformationResponse>" % (MANUFACTURER, MODEL),
                )
            if "UsernameToken" not in xml:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if not token_is_good(xml, args):
                return self.fault("ter:NotAuthorized")
            if op == "GetCapabilities":
                return self.reply(
                    200,
                    "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>http://%s:%d/onvif/media_service"
                    "</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>" % (args.address, args.http_port),
                )
            if op == "GetProfiles":
                return self.reply(
                    200,
                    "<trt:GetProfilesResponse>%s%s</trt:GetProfilesResponse>"
                    % (profile("main", "Main stream", 768, 576, 10), profile("sub", "Sub stream", 768, 576, 10)),
                )
            if op == "GetStreamUri":
                token = tag(xml, "ProfileToken")
                uri = {"main": args.main, "sub": args.sub}.get(token)
                if not uri:
                    return self.fault("ter:NoProfile")
                return self.reply(
                    200,
                    "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>%s</tt:Uri>"
                    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect></trt:MediaUri></trt:GetStreamUriResponse>" % uri,
                )
            return self.fault("ter:ActionNotSupported")

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--address", required=True, help="this camera's address (in the test's namespace)")
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--main", required=True, help="the main stream's RTSP URI")
    ap.add_argument("--sub", required=True, help="the sub stream's RTSP URI")
    ap.add_argument("--user", default="operator")
    ap.add_argument("--password", required=True)
    ap.add_argument("--name", default="Back door")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer((args.address, args.http_port), handler_for(args))
    threading.Thread(target=discovery, args=(args,), daemon=True).start()
    print("onvif-camera: ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
