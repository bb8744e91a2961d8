"""Drives the simulated PowerShell proxy with pywinrm (Debian's python3-winrm), the reference client.

Usage: /usr/bin/python3 pywinrm_driver.py <endpoint> <username> <password>
Prints one JSON object with what pywinrm got, for the vitest test to check.
"""
import base64
import json
import sys

import winrm
from winrm.exceptions import InvalidCredentialsError

endpoint, username, password = sys.argv[1:4]
session = winrm.Session(endpoint, auth=(username, password), transport="plaintext")
result = {}

r = session.run_cmd("ipconfig", ["/all"])
result["ipconfig"] = {"stdout": r.std_out.decode("utf-8"), "stderr": r.std_err.decode("utf-8"), "code": r.status_code}

r = session.run_cmd("echo m365sync & exit /b 7")
result["echo_exit"] = {"stdout": r.std_out.decode("utf-8"), "code": r.status_code}

r = session.run_ps("Write-Output 'from PowerShell'\nexit 3")
result["run_ps"] = {"stdout": r.std_out.decode("utf-8"), "stderr": r.std_err.decode("utf-8"), "code": r.status_code}

# run_ps with stderr trips pywinrm 0.3's bytes/str bug (pywinrm #285) in _clean_error_msg, so the
# PowerShell error stream is read through the same encoded command, by hand.
encoded = base64.b64encode("Write-Error 'it failed'\nexit 1".encode("utf_16_le")).decode("ascii")
r = session.run_cmd("powershell -encodedcommand {0}".format(encoded))
result["ps_error"] = {"stderr": r.std_err.decode("utf-8"), "code": r.status_code}

# The lower level: a shell reused for two commands, stdin sent by hand.
p = session.protocol
shell = p.open_shell(codepage=65001)
command = p.run_command(shell, "echo", ["reused shell"])
out, err, code = p.get_command_output(shell, command)
p.cleanup_command(shell, command)
result["protocol"] = {"stdout": out.decode("utf-8"), "code": code}
p.close_shell(shell)

try:
    winrm.Session(endpoint, auth=(username, password + "-wrong"), transport="plaintext").run_cmd("echo", ["x"])
    result["bad_password"] = "accepted"
except InvalidCredentialsError as error:
    result["bad_password"] = type(error).__name__

print(json.dumps(result))
