"""Debian's Kubernetes Python client (python3-kubernetes) against a podnet API server.

Lists pods in all namespaces, creates a Service, then watches services from the listed
resourceVersion and waits for the next change (a label it sets a moment later). Prints one
JSON object with what it saw; exits non-zero on any failure. KUBECONFIG names the cluster.
Run with /usr/bin/python3 (Debian's python, where python3-kubernetes is installed).
"""
import json
import sys
import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NAMESPACE = "default"


def main(name):
    config.load_kube_config()
    v1 = client.CoreV1Api()

    pods = v1.list_pod_for_all_namespaces()
    listed = sorted(f"{p.metadata.namespace}/{p.metadata.name}" for p in pods.items)

    service = client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1ServiceSpec(
            selector={"app": name},
            ports=[client.V1ServicePort(name="http", port=80, target_port=8080)],
        ),
    )
    created = v1.create_namespaced_service(NAMESPACE, service)

    # The next change after the list: a label set once the watch is open.
    later = threading.Timer(
        1.0,
        lambda: v1.patch_namespaced_service(
            name, NAMESPACE, {"metadata": {"labels": {"seen": "yes"}}}
        ),
    )
    seen = None
    version = v1.list_namespaced_service(NAMESPACE).metadata.resource_version
    later.start()
    while seen is None:
        w = watch.Watch()
        try:
            for event in w.stream(
                v1.list_namespaced_service,
                NAMESPACE,
                resource_version=version,
                timeout_seconds=30,
            ):
                obj = event["object"]
                if obj.metadata.name == name and (obj.metadata.labels or {}).get("seen"):
                    seen = {"type": event["type"], "labels": obj.metadata.labels}
                    w.stop()
                    break
            else:
                raise SystemExit("watch ended without the change")
        except ApiException as err:
            # 410 Gone: the revision was compacted; list again and watch from there.
            if err.status != 410:
                raise
            version = v1.list_namespaced_service(NAMESPACE).metadata.resource_version
    later.join()

    v1.delete_namespaced_service(name, NAMESPACE)
    print(
        json.dumps(
            {
                "pods": listed,
                "created": {"name": created.metadata.name, "clusterIP": created.spec.cluster_ip},
                "watched": seen,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "py-client")
