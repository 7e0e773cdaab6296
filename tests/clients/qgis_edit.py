"""Edit one register asset the way a QGIS user does (run by Debian's Python with python3-qgis).

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_edit.py
       HOST PORT DB USER TABLE ID FIELD VALUE
Prints a JSON document: whether the layer is valid, its field types, its geometry type and CRS,
and whether the edit was committed. The password comes from PGPASSWORD.
"""

import json
import os
import sys

from qgis.core import QgsApplication, QgsDataSourceUri, QgsFeatureRequest, QgsVectorLayer


def main() -> None:
    host, port, database, user, table, asset_id, field, value = sys.argv[1:9]
    app = QgsApplication([], False)  # noqa: FBT003 - QGIS's signature: no GUI
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setConnection(host, port, database, user, os.environ["PGPASSWORD"])
    uri.setDataSource("register", table, "geom", "", "id")
    source = uri.uri(False)  # noqa: FBT003 - QGIS's signature: keep the password out
    layer = QgsVectorLayer(source, table, "postgres")
    result = {"valid": layer.isValid()}
    if layer.isValid():
        result["fields"] = {f.name(): f.typeName() for f in layer.fields()}
        result["geometry"] = layer.wkbType()
        result["crs"] = layer.crs().authid()
        request = QgsFeatureRequest().setFilterExpression(f"\"id\" = '{asset_id}'")
        feature = next(layer.getFeatures(request))
        layer.startEditing()
        layer.changeAttributeValue(feature.id(), layer.fields().indexOf(field), value)
        result["committed"] = layer.commitChanges()
        result["errors"] = layer.commitErrors()
    sys.stdout.write(json.dumps(result) + "\n")
    app.exitQgis()


main()
