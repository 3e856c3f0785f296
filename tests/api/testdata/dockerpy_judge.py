"""A judge of skiff's Docker Engine API service: Debian's docker-py (python3-docker).

Usage: python3 dockerpy_judge.py auto|1.41 IMAGE SUFFIX

  auto     docker.from_env(version='auto'): docker-py negotiates with /version
           (docker-py 5's default)
  1.41     docker.from_env(version='1.41'): pinned, as older SDKs and tools do
  IMAGE    a busybox image in a registry the service can pull from
  SUFFIX   makes the names of what the script creates unique

DOCKER_HOST points at the service. Every check that fails prints a line
starting "FAIL:" with what was expected and what came back, and the script
exits 1; an exception from docker-py (an API error) exits 1 with its
traceback. Everything the script creates is removed at the end.
"""

import io
import socket
import sys
import tarfile
import time
import urllib.request

import docker

MODE, IMAGE, SUFFIX = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(cond, what, got=None):
    if not cond:
        msg = "FAIL: " + what
        if got is not None:
            msg += " (got %r)" % (got,)
        print(msg, flush=True)
        failures.append(msg)
    return cond


def fatal(what, got=None):
    check(False, what, got)
    sys.exit(1)


def tar_of(files):
    """A tar archive (bytes) of {name: bytes}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = time.time()
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


JUDGE = "docker-py-%s-%s" % (MODE, SUFFIX)  # the label of what this run creates


def name(what):
    return "py-%s-%s-%s" % (MODE, what, SUFFIX)


if MODE == "auto":
    client = docker.from_env(version="auto", timeout=120)
elif MODE == "1.41":
    client = docker.from_env(version="1.41", timeout=120)
else:
    fatal("mode must be auto or 1.41", MODE)

cleanup_containers, cleanup_networks, cleanup_volumes, cleanup_images = [], [], [], []

try:
    # --- system ----------------------------------------------------------------------------
    check(client.ping() is True, "ping")
    version = client.version()
    print("service API version %s (min %s); docker-py speaks %s" % (
        version.get("ApiVersion"), version.get("MinAPIVersion"), client.api.api_version), flush=True)
    if MODE == "auto":
        check(client.api.api_version == version.get("ApiVersion"),
              "version='auto' negotiates the service's API version", client.api.api_version)
    else:
        check(client.api.api_version == "1.41", "the pinned API version 1.41", client.api.api_version)
    info = client.info()
    check(info.get("OSType") == "linux" and info.get("NCPU", 0) >= 1, "info: OSType linux and NCPU", info)
    df = client.df()
    api = tuple(int(x) for x in client.api.api_version.split("."))
    if api >= (1, 53):  # the legacy lists were removed in 1.53 (1.52 has both)
        check(isinstance(df.get("ImageUsage"), dict) and df["ImageUsage"].get("TotalCount", 0) >= 1
              and isinstance(df.get("ContainerUsage"), dict) and isinstance(df.get("VolumeUsage"), dict),
              "df at API %s: ImageUsage (with the pulled image), ContainerUsage, VolumeUsage" % client.api.api_version, df)
    else:
        check(isinstance(df.get("Images"), list) and len(df["Images"]) >= 1 and isinstance(df.get("Containers"), list)
              and isinstance(df.get("Volumes"), list),
              "df at API %s: Images (with the pulled image), Containers and Volumes lists" % client.api.api_version, df)

    # --- images ----------------------------------------------------------------------------
    since = int(time.time()) - 1
    img = client.images.pull(IMAGE, tag="latest")
    check(img.id.startswith("sha256:") and (IMAGE + ":latest") in img.tags, "images.pull: an Image with its tag", (img.id, img.tags))
    check(any(i.id == img.id for i in client.images.list()), "images.list has the pulled image")
    check(any(h.get("Id") == img.id for h in img.history()), "image history names the image", img.history())
    retag = "localhost/py-tag-%s-%s" % (MODE, SUFFIX)
    check(img.tag(retag, "v1"), "image.tag")
    cleanup_images.append(retag + ":v1")
    check(client.images.get(retag + ":v1").id == img.id, "images.get of the new tag")
    try:
        client.images.get("localhost/py-no-such-image:" + SUFFIX)
        check(False, "images.get of a missing image raises ImageNotFound")
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.NotFound as e:
        # docker-py picks ImageNotFound from Docker's wording of the 404: "No such image: NAME".
        check(False, "images.get of a missing image raises ImageNotFound (the 404's message must say 'No such image')", str(e))

    # Build from a tar given as a file object (custom_context), with buildargs and labels.
    context = tar_of({
        "Dockerfile": ("FROM %s\nARG WHO=nobody\nRUN echo \"hello $WHO\" > /hello\nCOPY data.txt /data.txt\nLABEL judge=docker-py\nCMD [\"cat\", \"/hello\", \"/data.txt\"]\n" % IMAGE).encode(),
        "data.txt": b"from the tar context\n",
    })
    built_tag = "localhost/py-built-%s-%s:latest" % (MODE, SUFFIX)
    built, build_logs = client.images.build(fileobj=context, custom_context=True, tag=built_tag,
                                            buildargs={"WHO": "python"}, rm=True, nocache=True)
    cleanup_images.append(built_tag)
    logs = "".join(c.get("stream", "") for c in build_logs)
    check("Successfully built" in logs or "sha256:" in logs, "build log stream ends with the image", logs)
    check(built.labels.get("judge") == "docker-py", "built image label", built.labels)
    out = client.containers.run(built_tag, remove=True)
    check(out == b"hello python\nfrom the tar context\n", "run of the built image", out)
    # A failing build raises BuildError with the step's message.
    bad = tar_of({"Dockerfile": ("FROM %s\nRUN echo broken-step && exit 7\n" % IMAGE).encode()})
    try:
        client.images.build(fileobj=bad, custom_context=True, rm=True)
        check(False, "a build whose RUN fails raises BuildError")
    except docker.errors.BuildError as e:
        check("7" in str(e) or "non-zero" in str(e), "BuildError names the failing step", str(e))

    # --- containers ------------------------------------------------------------------------
    # run in the foreground returns the output; a non-zero exit raises ContainerError.
    check(client.containers.run(IMAGE, ["sh", "-c", "echo out"], remove=True) == b"out\n", "containers.run output")
    try:
        client.containers.run(IMAGE, ["sh", "-c", "echo bad >&2; exit 4"], remove=True)
        check(False, "containers.run of a failing command raises ContainerError")
    except docker.errors.ContainerError as e:
        check(e.exit_status == 4, "ContainerError exit_status 4", e.exit_status)

    cname = name("main")
    c = client.containers.run(IMAGE, ["sh", "-c", "trap 'exit 0' TERM; echo started; sleep 300 & wait"],
                              name=cname, detach=True, environment={"FROM_PY": "yes"},
                              labels={"judge": JUDGE})
    cleanup_containers.append(cname)
    c.reload()
    check(c.status == "running" and c.name == cname, "detached container running", (c.status, c.name))
    check(any(x.id == c.id for x in client.containers.list(filters={"label": "judge=" + JUDGE, "name": cname})),
          "containers.list with filters finds it")
    try:
        client.containers.run(IMAGE, "true", name=cname, detach=True)
        check(False, "a second container with the same name raises APIError 409")
    except docker.errors.APIError as e:
        check(e.status_code == 409, "name conflict is 409", e.status_code)
    try:
        client.containers.get(name("missing"))
        check(False, "containers.get of a missing name raises NotFound")
    except docker.errors.NotFound:
        pass

    # exec_run: exit code, output, environment, demux.
    res = c.exec_run(["sh", "-c", "echo $FROM_PY $X; exit 3"], environment={"X": "exec-env"})
    check(res.exit_code == 3 and res.output == b"yes exec-env\n", "exec_run exit code and output", res)
    res = c.exec_run(["sh", "-c", "echo to-out; echo to-err >&2"], demux=True)
    check(res.output == (b"to-out\n", b"to-err\n"), "exec_run demux", res.output)
    res = c.exec_run("id -u", user="1000", workdir="/tmp")
    check(res.output == b"1000\n", "exec_run user", res)

    # put_archive / get_archive.
    check(c.put_archive("/tmp", tar_of({"put.txt": b"put by docker-py\n"}).read()) is True, "put_archive")
    res = c.exec_run("cat /tmp/put.txt")
    check(res.output == b"put by docker-py\n", "the put file in the container", res.output)
    stream, stat = c.get_archive("/tmp/put.txt")
    check(stat.get("name") == "put.txt" and stat.get("size") == 17, "get_archive stat", stat)
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        member = tf.extractfile("put.txt")
        check(member is not None and member.read() == b"put by docker-py\n", "get_archive content")
    try:
        c.get_archive("/no/such/path")
        check(False, "get_archive of a missing path raises NotFound")
    except docker.errors.NotFound:
        pass

    # logs, top, stop, wait.
    time.sleep(0.3)
    check(b"started\n" in c.logs(), "logs", c.logs())
    top = c.top()
    check("Titles" in top and any("sleep" in " ".join(p) for p in top.get("Processes", [])), "top", top)
    c.stop(timeout=5)
    res = c.wait(timeout=30)
    check(res.get("StatusCode") == 0, "wait after stop", res)
    c.reload()
    check(c.status == "exited", "status after stop", c.status)

    # wait for a container exiting by itself, logs streaming with follow.
    w = client.containers.run(IMAGE, ["sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.2; done; exit 5"],
                              name=name("wait"), detach=True, labels={"judge": JUDGE})
    cleanup_containers.append(w.name)
    lines = b"".join(w.logs(stream=True, follow=True))
    check(lines == b"tick1\ntick2\ntick3\n", "logs(stream, follow) until the exit", lines)
    check(w.wait(timeout=30).get("StatusCode") == 5, "wait returns the exit code 5")

    # A published port, reached from here.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = client.containers.run(IMAGE, ["sh", "-c", "mkdir -p /www && echo py-web > /www/index.html && exec httpd -f -p 80 -h /www"],
                                name=name("web"), detach=True, ports={"80/tcp": ("127.0.0.1", port)})
    cleanup_containers.append(web.name)
    body, deadline = None, time.time() + 20
    while time.time() < deadline:
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2).read()
            break
        except OSError:
            time.sleep(0.2)
    check(body == b"py-web\n", "GET through the published port", body)

    # --- networks --------------------------------------------------------------------------
    net = client.networks.create(name("net"), driver="bridge", labels={"judge": JUDGE})
    cleanup_networks.append(net.name)
    check(any(n.id == net.id for n in client.networks.list(names=[net.name])), "networks.list(names=)")
    net.connect(web, aliases=["py-web-alias"])
    net.reload()
    check(any(x.id == web.id for x in net.containers), "network.containers after connect", [x.id for x in net.containers])
    out = client.containers.run(IMAGE, ["wget", "-qO-", "http://py-web-alias/"], network=net.name, remove=True)
    check(out == b"py-web\n", "wget through the network alias", out)
    net.disconnect(web)
    net.reload()
    check(not net.containers, "network.containers after disconnect", net.containers)

    # --- volumes ---------------------------------------------------------------------------
    vol = client.volumes.create(name=name("vol"), labels={"judge": JUDGE})
    cleanup_volumes.append(vol.name)
    check(vol.attrs.get("Mountpoint") and vol.attrs.get("Driver") == "local", "volume attrs", vol.attrs)
    check(any(v.name == vol.name for v in client.volumes.list(filters={"label": "judge=" + JUDGE})), "volumes.list(filters=)")
    client.containers.run(IMAGE, ["sh", "-c", "echo in-volume > /v/f"], volumes={vol.name: {"bind": "/v", "mode": "rw"}}, remove=True)
    out = client.containers.run(IMAGE, ["cat", "/v/f"], volumes={vol.name: {"bind": "/v", "mode": "ro"}}, remove=True)
    check(out == b"in-volume\n", "data kept in the volume", out)

    # --- events ----------------------------------------------------------------------------
    until = int(time.time()) + 1
    time.sleep(1.2)
    seen = {}
    for ev in client.events(since=since, until=until, filters={"container": cname}, decode=True):
        seen.setdefault(ev.get("Action") or ev.get("status"), ev)
    actions = sorted(a for a in seen if a)
    for action in ("create", "start", "die"):
        check(action in seen, "events since/until: " + action, actions)
    check(any(a.startswith("exec_start") for a in actions), "events: an exec_start", actions)
    die = seen.get("die", {})
    check(die.get("Actor", {}).get("Attributes", {}).get("exitCode") == "0", "die event exitCode 0", die)

    # --- removal ---------------------------------------------------------------------------
    c.remove(v=True)
    cleanup_containers.remove(cname)
    try:
        client.containers.get(cname)
        check(False, "a removed container is gone")
    except docker.errors.NotFound:
        pass
    # prune (of this run's stopped containers only, by label): the waited one goes.
    pruned = client.containers.prune(filters={"label": "judge=" + JUDGE})
    if check(w.id in (pruned.get("ContainersDeleted") or []), "containers.prune with a label filter deletes the exited one", pruned):
        cleanup_containers.remove(w.name)
finally:
    for n in cleanup_containers:
        try:
            client.containers.get(n).remove(force=True, v=True)
        except Exception as e:  # noqa: BLE001 - report and go on cleaning
            print("cleanup: container %s: %s" % (n, e), flush=True)
    for n in cleanup_networks:
        try:
            client.networks.get(n).remove()
        except Exception as e:  # noqa: BLE001
            print("cleanup: network %s: %s" % (n, e), flush=True)
    for n in cleanup_volumes:
        try:
            client.volumes.get(n).remove()
        except Exception as e:  # noqa: BLE001
            print("cleanup: volume %s: %s" % (n, e), flush=True)
    for n in cleanup_images:
        try:
            client.images.remove(n)
        except Exception as e:  # noqa: BLE001
            print("cleanup: image %s: %s" % (n, e), flush=True)

if failures:
    print("%d check(s) failed" % len(failures), flush=True)
    sys.exit(1)
print("all docker-py checks passed (%s)" % MODE, flush=True)
