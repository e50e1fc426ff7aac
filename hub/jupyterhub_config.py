"""JupyterHub for a Model Inversion Lab class on one server: what tests/test_hub.py runs, word for word.

    jupyterhub -f hub/jupyterhub_config.py

Settings come from environment variables so one file serves a test and a classroom (defaults in brackets):
  LAB_HUB_PORT [8000]          where learners connect (the proxy), on LAB_HUB_IP [127.0.0.1]
  LAB_HUB_STATE [./hub-state]  the hub's database, cookie secret and learners' home folders
  LAB_HUB_PASSWORD             the shared class password for the dummy authenticator (set it!)
  LAB_HUB_ADMIN_TOKEN          an API token for the instructor's scripts (optional)
  LAB_HUB_PROXY                the configurable-http-proxy command (npm install -g configurable-http-proxy)
  LAB_DATA_HOME                the folder holding olivetti_py3.pkz, passed to every learner's server

For a real class replace the dummy authenticator (one shared password, any user name) with your institution's
(e.g. oauthenticator, ldapauthenticator, or nativeauthenticator for self sign-up), and the simple spawner
(every learner a process of the same system user, homes under LAB_HUB_STATE) with LocalProcessSpawner
(system users) or DockerSpawner. Zero to JupyterHub on Kubernetes: see hub/values.yaml.
"""
import os
import secrets
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it reads this file

state = Path(os.environ.get("LAB_HUB_STATE", "hub-state")).resolve()
state.mkdir(parents=True, exist_ok=True)
port = int(os.environ.get("LAB_HUB_PORT", "8000"))

# where learners connect: the proxy; the hub's own API and the proxy's API on the next free-ish ports
c.JupyterHub.bind_url = f"http://{os.environ.get('LAB_HUB_IP', '127.0.0.1')}:{port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{int(os.environ.get('LAB_HUB_API_PORT', port + 1))}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('LAB_HUB_PROXY_API_PORT', port + 2))}"
if os.environ.get("LAB_HUB_PROXY"):
    c.ConfigurableHTTPProxy.command = [os.environ["LAB_HUB_PROXY"]]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# who may log in
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("LAB_HUB_PASSWORD") or secrets.token_urlsafe(16)
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"instructor"}

# each learner's server: JupyterLab in their own home folder, with the kit's Python and the face data
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:  # a container or CI running as root: JupyterLab refuses root unless told
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "LAB_DATA_HOME": os.environ.get("LAB_DATA_HOME", ""),
    "LAB_OFFLINE": os.environ.get("LAB_OFFLINE", "1"),
    "OMP_NUM_THREADS": "1",  # one PyTorch thread per learner: a shared server stays steady (see docs/performance.md)
}
c.Spawner.mem_limit = os.environ.get("LAB_HUB_MEM_LIMIT", "2G")  # enforced by container spawners, advisory here
c.JupyterHub.shutdown_on_logout = True
# answer "starting" at once and let the page (or a script) poll: a class starting 30 servers at 9:00 waits on
# nothing (JupyterHub 6.1 also fails a start request that waits past its default 10 s)
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

# the instructor's scripts (creating learners, starting servers) authenticate with this token
if os.environ.get("LAB_HUB_ADMIN_TOKEN"):
    c.JupyterHub.services = [{"name": "lab-instructor", "api_token": os.environ["LAB_HUB_ADMIN_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "lab-instructor", "services": ["lab-instructor"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}]
